"""multilog's script, read from svlog's command line into a tuple of actions.

Pure. A script is what follows ``svlog``: ``t`` (first, or not at all), ``sSIZE`` and
``nNUM`` (they apply to the directory actions after them), ``+PATTERN`` and
``-PATTERN`` (select, deselect), ``e`` (stderr), and directory actions (a name
starting with ``.`` or ``/``). multilog silently ignores what it does not know (a
misspelt ``log/run`` then logs nothing, or stamps nothing); svlog refuses it with one
line naming the argument, so the mistake shows the first time the logger starts.
multilog's processor (``!cmd``) and status file (``=file``) are refused the same way.

The classes are plain `__slots__` classes, not attrs or dataclasses: importing either
costs more than the rest of svlog's start-up (measured with ``python -X importtime``).
"""

from __future__ import annotations

#: multilog's bounds and defaults for ``s`` and ``n`` (multilog.c, c_init).
MIN_SIZE = 4096
MAX_SIZE = 16777215
DEFAULT_SIZE = 99999
MIN_NUM = 2
DEFAULT_NUM = 10

_DIGITS = frozenset("0123456789")
_KNOWN = "t sSIZE nNUM +PATTERN -PATTERN e ./DIR /DIR"


class ScriptError(ValueError):
    """An argument that is not a multilog action svlog knows; the text names it."""


class _Value:
    """Equality, hash and repr from `__slots__`: the few value classes below need no more."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Value)
            and type(other) is type(self)
            and self._fields() == other._fields()
        )

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        inside = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({inside})"


class Select(_Value):
    """``+pattern`` (include) or ``-pattern``: the line's selection after a match."""

    __slots__ = ("include", "pattern")

    def __init__(self, include: bool, pattern: bytes) -> None:
        self.include = include
        self.pattern = pattern


class Stderr(_Value):
    """``e``: a selected line (its first 200 bytes) goes to standard error."""

    __slots__ = ()


class Directory(_Value):
    """A log directory and the ``s`` and ``n`` in force where it was named."""

    __slots__ = ("path", "size", "num")

    def __init__(self, path: str, size: int = DEFAULT_SIZE, num: int = DEFAULT_NUM) -> None:
        self.path = path
        self.size = size
        self.num = num


TYPE_CHECKING = False
if TYPE_CHECKING:
    Action = Select | Stderr | Directory


class Script(_Value):
    """The whole script: whether lines are stamped, and the actions in order."""

    __slots__ = ("timestamp", "actions")

    def __init__(self, timestamp: bool, actions: tuple[Action, ...]) -> None:
        self.timestamp = timestamp
        self.actions = actions

    @property
    def directories(self) -> tuple[Directory, ...]:
        return tuple(action for action in self.actions if isinstance(action, Directory))

    @property
    def simple(self) -> bool:
        """Every line goes to every directory and nowhere else (the fast path)."""
        return all(isinstance(action, Directory) for action in self.actions)


def parse(argv: list[str]) -> Script:
    """The script `argv` spells; `ScriptError` names the first argument that is wrong."""
    timestamp = bool(argv) and argv[0] == "t"
    size, num = DEFAULT_SIZE, DEFAULT_NUM
    actions: list[Action] = []
    for arg in argv[1:] if timestamp else argv:
        head = arg[:1]
        if head == "s":
            size = min(max(_number(arg, "size in bytes"), MIN_SIZE), MAX_SIZE)
        elif head == "n":
            num = max(_number(arg, "number of files"), MIN_NUM)
        elif head in ("+", "-"):
            actions.append(Select(head == "+", _encode(arg[1:])))
        elif head in (".", "/"):
            actions.append(Directory(arg, size, num))
        else:
            actions.append(_other(arg))
    return Script(timestamp, tuple(actions))


def _other(arg: str) -> Action:
    if arg == "e":
        return Stderr()
    if arg == "t":
        raise ScriptError("t must be the first action (multilog ignores it anywhere else)")
    if arg[:1] == "!":
        raise ScriptError(f"processors are not supported: {arg!r}")
    if arg[:1] == "=":
        raise ScriptError(f"status files are not supported: {arg!r}")
    raise ScriptError(f"unknown action {arg!r} (actions: {_KNOWN})")


def _number(arg: str, what: str) -> int:
    digits = arg[1:]
    if not digits or not set(digits) <= _DIGITS:
        raise ScriptError(f"{arg!r}: {arg[0]} must be followed by a {what}")
    return int(digits)


def _encode(text: str) -> bytes:
    """The bytes of a pattern as they were on the command line (undecodable ones too)."""
    return text.encode("utf-8", "surrogateescape")

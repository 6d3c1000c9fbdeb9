"""The optional per-service files of runit and s6, and our own, read when they are needed.

s6 reads ``timeout-kill``, ``timeout-finish``, ``down-signal`` and
``notification-fd`` at the moment it uses them, so a user can change them
without restarting the supervisor; so do we, and so with our crash-loop
settings (``backoff-max``, ``backoff-reset``, ``permafail-deaths``,
``permafail-secs``: see `supervise.machine.Policy`), read when ./run dies, and
``signal-group`` (`parse_group`), read when a command is to signal.
The parsers are pure functions; `read_text` is the only I/O. Garbage in a file
is reported by the caller with the file's name and the bad text, and the
default is used.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from supervise.errtext import describe

TYPE_CHECKING = False  # typing costs the daemon's first pass its import time
if TYPE_CHECKING:
    from typing import TypeVar

    from supervise.control import Command  # noqa: TC004 - imported again where it runs

    T = TypeVar("T")

#: A setting file larger than this is garbage, not a number.
_MAX_SIZE = 256


class SettingError(ValueError):
    """A setting file holds something we cannot use; the message quotes it."""


def parse_ms(text: str) -> int:
    """A duration in milliseconds: a non-negative decimal integer."""
    word = text.strip()
    if not word.isdecimal():
        raise SettingError(f"not a number of milliseconds: {word!r}")
    return int(word)


def parse_count(text: str) -> int:
    """A count (or whole seconds): a non-negative decimal integer."""
    word = text.strip()
    if not word.isdecimal():
        raise SettingError(f"not a whole number: {word!r}")
    return int(word)


def parse_signal(text: str) -> int:
    """A signal by name (``SIGHUP``, ``HUP``) or number (``1``), as s6 accepts it."""
    word = text.strip()
    if word.isdecimal():
        number = int(word)
        if number in {int(s) for s in signal.valid_signals()} and number > 0:
            return number
        raise SettingError(f"not a signal number: {word!r}")
    name = word.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise SettingError(f"not a signal name: {word!r}") from None


def parse_group(text: str) -> frozenset[Command]:
    """``signal-group``: the control letters whose signals go to the process group.

    Empty: every letter that signals (``p c h a i t k q 1 2 w y``) but ``d``; else the
    letters written (``d`` among them if the stop is to reach the group too).
    """
    from supervise.control import GROUP_COMMANDS, Command  # attrs: not for the first pass

    letters = "".join(text.split())
    if not letters:
        return GROUP_COMMANDS - {Command.DOWN}
    by_letter = {command.value.decode(): command for command in GROUP_COMMANDS}
    wrong = sorted(set(letters) - set(by_letter))
    if wrong:
        raise SettingError(f"not a letter of {''.join(sorted(by_letter))}: {''.join(wrong)!r}")
    return frozenset(by_letter[letter] for letter in letters)


def parse_fd(text: str) -> int:
    """A notification fd: a decimal integer of at least 3 (0-2 are stdio)."""
    word = text.strip()
    if not word.isdecimal() or int(word) < 3 or int(word) > 1024:
        raise SettingError(f"not a file descriptor from 3 to 1024: {word!r}")
    return int(word)


def value(
    dirfd: int, path: str, name: str, parse: Callable[[str], T], default: T
) -> tuple[T, str | None]:
    """The value of setting file `name` in `path` (open as `dirfd`), and the fault, if any.

    Absent: `default`. Unreadable or garbage: `default` too, with the line to say.
    """
    try:
        text = read_text(dirfd, name)
        return (default if text is None else parse(text)), None
    except OSError as error:
        return default, f"unable to read {path}/{name}: {describe(error)}"
    except SettingError as error:
        return default, f"{path}/{name}: {error}; using the default"


def read_text(dirfd: int, name: str) -> str | None:
    """The file's text, or None if it does not exist. Other errors propagate."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dirfd)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, _MAX_SIZE + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_SIZE:
        raise SettingError(f"more than {_MAX_SIZE} bytes")
    return data.decode("utf-8", "replace")


def exists(dirfd: int, name: str) -> bool:
    """Whether `name` exists in the directory (any type, a symlink counts)."""
    try:
        os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def is_program(dirfd: int, name: str) -> bool:
    """Whether `name` is a regular file we may execute (used for ./finish)."""
    try:
        st = os.stat(name, dir_fd=dirfd)
    except OSError:
        return False
    return (st.st_mode & 0o170000) == 0o100000 and os.access(name, os.X_OK, dir_fd=dirfd)

"""multilog's patterns: ``*`` and literal bytes, matched the way daemontools' match.c does.

Pure. A pattern is not a shell glob. ``*`` matches any run of bytes up to the
*first* occurrence of the pattern's next byte, and never backtracks: ``*b`` matches
``ab`` but ``*bc`` does not match ``abbc`` (the ``*`` stops at the first ``b``, then
``c`` meets ``b``). A ``*`` at the end matches the rest of the line. Two stars in a row
make the first one look for a literal ``*``. The whole line must be matched, and with
``t`` the line starts with its ``@`` label and a space, which multilog matches too:
``+* fatal: *`` then selects nothing (its ``*`` stops at the space after the label),
while ``+@* fatal: *`` selects the lines whose text starts with ``fatal: ``.

The pattern is compiled once into parts (a literal run; a star and the byte it stops
before; a final star), so matching is a few ``bytes.find``/``startswith`` calls in C.
"""

from __future__ import annotations

_STAR = 0x2A

#: part kinds
_LITERAL = 0  # these bytes, here
_SKIP_TO = 1  # a star: move to the first occurrence of a byte (which is not consumed)
_REST = 2  # a final star: the rest of the line matches

#: (kind, literal bytes, byte to skip to)
_Part = tuple[int, bytes, int]


class Pattern:
    """A compiled multilog pattern; `matches(line)` answers as match.c's ``match``."""

    __slots__ = ("text", "_parts")

    def __init__(self, text: bytes) -> None:
        self.text = text
        self._parts = _compile(text)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"

    def matches(self, line: bytes | bytearray) -> bool:
        at = 0
        for kind, literal, byte in self._parts:
            if kind == _LITERAL:
                if not line.startswith(literal, at):
                    return False
                at += len(literal)
            elif kind == _SKIP_TO:
                at = line.find(byte, at)
                if at < 0:
                    return False
            else:
                return True
        return at == len(line)


def _compile(text: bytes) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    at = 0
    while at < len(text):
        if text[at] == _STAR:
            at += 1
            parts.append((_REST, b"", 0) if at == len(text) else (_SKIP_TO, b"", text[at]))
            continue
        end = text.find(b"*", at)
        end = len(text) if end < 0 else end
        parts.append((_LITERAL, text[at:end], 0))
        at = end
    return tuple(parts)


def matches(pattern: bytes, line: bytes | bytearray) -> bool:
    """One-off matching (tests, a REPL); the logger compiles each pattern once."""
    return Pattern(pattern).matches(line)

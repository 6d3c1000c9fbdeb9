"""Which lines of a read each directory and ``e`` get: the whole read at once, in C.

Pure. Looping over lines in Python costs several times what multilog spends per line,
so for a block of complete lines (each at most 1000 bytes with its label: the head
multilog matches is the whole line) svlog folds the script's ``+`` and ``-`` before each
directory into one regular expression and lets ``filter`` apply it to every line from C:

- each pattern becomes an expression that matches exactly the lines match.c matches: a
  literal run is itself; a star before byte ``c`` is ``[^c]*`` (it stops at the first
  ``c``, which must then be there, and cannot backtrack, since nothing it skipped is a
  ``c``; before another star, a lookahead checks the ``c``); a final star ends the
  expression, otherwise the line must end where the pattern does. A pattern holding a
  newline matches nothing (a line has none); ``*`` matches everything. (``[^c]*``, not
  ``[^c\\n]*``: the lines are matched one by one, and a class of one byte is the regular
  expression engine's fast loop.)
- the conditions fold in script order: selected at first; ``+P``: selected or P
  matches; ``-P``: selected and P does not. Each is a zero-width assertion at the start
  of the line, so one ``match`` per line decides it.

`svlog.lines` uses this for reads that end no file; its per-line path stays the
reference (the two are tested against each other, and both against multilog).
"""

from __future__ import annotations

import re

from svlog.script import Directory, Script, Select, Stderr

ELLIPSIS_AT = 200
_TRUE = b""  # the condition every line meets
_FALSE = b"(?!)"  # the one no line meets


def pattern_regex(pattern: bytes) -> bytes | None:
    """An expression that matches a line (from its start) iff match.c's `pattern` matches
    it; None if it can match no line at all."""
    if b"\n" in pattern:
        return None
    parts = []
    at = 0
    while at < len(pattern):
        if pattern[at : at + 1] != b"*":
            end = pattern.find(b"*", at)
            end = len(pattern) if end < 0 else end
            parts.append(re.escape(pattern[at:end]))
            at = end
            continue
        at += 1
        if at == len(pattern):
            return b"".join(parts)  # a final star: the rest of the line, whatever it is
        stop = re.escape(pattern[at : at + 1])
        parts.append(b"[^" + stop + b"]*")  # lines are matched one by one: no newline
        if pattern[at : at + 1] == b"*":  # the next star must find its byte here
            parts.append(b"(?=" + stop + b")")
    return b"".join(parts) + b"$"


def _then(condition: bytes, include: bool, pattern: bytes) -> bytes:
    """The condition after one ``+pattern`` (include) or ``-pattern``."""
    if pattern == b"*":
        return _TRUE if include else _FALSE
    body = pattern_regex(pattern)
    if body is None or condition == (_TRUE if include else _FALSE):
        return condition  # nothing to add, or nothing can change it
    if include:
        found = b"(?=" + body + b")"
        return found if condition == _FALSE else b"(?:" + condition + b"|" + found + b")"
    missing = b"(?!" + body + b")"
    return missing if condition == _TRUE else condition + missing


class Selection:
    """A script's +, -, e and directories, applied to blocks of complete, short lines."""

    __slots__ = ("_takers",)

    def __init__(self, script: Script) -> None:
        takers: list[tuple[bool, bytes, re.Pattern[bytes] | None]] = []
        condition = _TRUE
        for action in script.actions:
            if isinstance(action, Select):
                condition = _then(condition, action.include, action.pattern)
            else:
                assert isinstance(action, Stderr | Directory)
                test = None if condition in (_TRUE, _FALSE) else re.compile(condition)
                takers.append((isinstance(action, Stderr), condition, test))
        self._takers = tuple(takers)

    def split(self, block: bytes, head: int) -> tuple[list[bytes], list[bytes]] | None:
        """Each directory's bytes of `block` (lines, each ending with a newline), and what
        ``e`` prints, in script order; None if a line to be matched is longer than `head`
        (multilog matches only a line's first `head` bytes: that line needs the per-line
        path)."""
        chosen: list[bytes] = []
        errors: list[bytes] = []
        lines: list[bytes] | None = None
        for stderr, condition, test in self._takers:
            if test is None:
                kept = block if condition == _TRUE else b""
            else:
                if lines is None:
                    lines = block.split(b"\n")
                    lines.pop()
                    if max(map(len, lines)) > head:
                        return None
                # filter calls the compiled match from C: no Python code runs per line
                taken = list(filter(test.match, lines))
                kept = b"\n".join(taken) + b"\n" if taken else b""
            if stderr:
                errors.append(_shortened(kept))
            else:
                chosen.append(kept)
        return chosen, errors


def _shortened(lines: bytes) -> bytes:
    """``e``: each line past 200 bytes cut to 200 and ``...``."""
    if not lines:
        return b""
    return b"".join([
        line[:ELLIPSIS_AT] + b"...\n" if len(line) > ELLIPSIS_AT else line + b"\n"
        for line in lines.split(b"\n")[:-1]
    ])

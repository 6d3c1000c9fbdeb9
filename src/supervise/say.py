"""The daemon's one-line messages on stderr, in daemontools' shape.

``supervise: warning: unable to start DIR/run: file does not exist``. A fault
that repeats (a retry that fails the same way) is said once: `Faults` remembers
the last text per kind and stays quiet until it changes or clears.
"""

from __future__ import annotations

import sys

import attrs

PROG = "supervise"


#: Control characters (a newline in a directory name, say) shown as ``\\xNN``: one fault,
#: one line, and a name cannot forge a line of its own.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}


def line(kind: str, text: str) -> None:
    """Write ``supervise: KIND: TEXT`` to stderr, in one write."""
    sys.stderr.write(f"{PROG}: {kind}: {text.translate(_ESCAPES)}\n")
    sys.stderr.flush()


def warning(text: str) -> None:
    line("warning", text)


def fatal(text: str) -> None:
    line("fatal", text)


@attrs.define
class Faults:
    """Say each fault once: a repeat of the same text for the same kind is dropped."""

    _last: dict[str, str] = attrs.field(factory=dict)
    muted: bool = False

    def report(self, kind: str, text: str) -> None:
        if self.muted:
            return
        if self._last.get(kind) != text:
            self._last[kind] = text
            warning(text)

    def clear(self, kind: str) -> None:
        self._last.pop(kind, None)

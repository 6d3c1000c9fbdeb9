"""The daemons' one-line messages on stderr: `cmdline.out` lines, escaped, each fault once.

``supervise: warning: unable to start DIR/run: file does not exist``, under the
daemon's own name (``supervise`` or ``svscan``, set by its command line through
`cmdline.out.begin`). What the daemon adds to the layer: control characters in
a text are escaped (a name cannot forge a line of its own), and `Faults`
remembers the last text per kind, so a fault that repeats (a retry that fails
the same way) is said once, until it changes or clears.
"""

from __future__ import annotations

from cmdline import out

#: Control characters (a newline in a directory name, say) shown as ``\\xNN``: one fault,
#: one line, and a name cannot forge a line of its own.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}


def line(kind: str, text: str) -> None:
    """Write ``PROG: KIND: TEXT`` to stderr, in one write."""
    out.line(kind, text.translate(_ESCAPES))


def warning(text: str) -> None:
    line("warning", text)


def fatal(text: str) -> None:
    line("fatal", text)


class Faults:
    """Say each fault once: a repeat of the same text for the same kind is dropped.

    A plain class: the command lines say their faults before attrs is loaded.
    """

    __slots__ = ("_last", "muted")

    def __init__(self) -> None:
        self._last: dict[str, str] = {}
        self.muted = False

    def report(self, kind: str, text: str) -> None:
        if self.muted:
            return
        if self._last.get(kind) != text:
            self._last[kind] = text
            warning(text)

    def clear(self, kind: str) -> None:
        self._last.pop(kind, None)

"""Where svlog's input comes from: a pipe, peeked (`svlog.peek`), or anything else, read.

Under svscan (and any ``|``) the input is a pipe, and svlog takes a line from it only
once the line is written (`svlog.peek.PipeSource`). A file, a terminal or a socket
cannot be peeked at that way; they are read as multilog reads them (`StreamSource`):
what is read is taken, so a SIGKILL between a read and its write loses that read.

Both have the same two calls: `next` gives new input (None: a signal came, or nothing
did; b"": end of input), `written` says the logger has written all it was given but the
line it is still reading.
"""

from __future__ import annotations

import os
import stat

from svlog.signals import Signals

#: the most one read takes
READ = 1 << 17

TYPE_CHECKING = False


class StreamSource:
    """Input read as multilog reads it: after SIGTERM one byte at a time, so nothing past
    the line being finished is taken."""

    __slots__ = ("_fd", "_signals")

    def __init__(self, fd: int, signals: Signals) -> None:
        self._fd = fd
        self._signals = signals

    def next(self) -> bytes | None:
        """Some input, None if a signal came or the input was not ready after all, or b""
        at end of input; a read error ends input, as it ends multilog's."""
        if not self._signals.wait(self._fd):
            return None
        try:
            return os.read(self._fd, 1 if self._signals.exit else READ)
        except BlockingIOError:  # a non-blocking input someone else read first
            return None
        except OSError:
            return b""

    def written(self, held: int) -> None:
        """Nothing to do: what was read has left its file already."""


if TYPE_CHECKING:
    from svlog.peek import PipeSource

    Source = PipeSource | StreamSource


def open_source(fd: int, signals: Signals) -> Source:
    """A pipe is peeked; anything else (or a pipe that cannot be) is read."""
    try:
        pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:  # not open: the first read will say end of input, as multilog's does
        pipe = False
    if pipe:
        try:
            from svlog.peek import PipeSource  # brings ctypes: only for a pipe

            return PipeSource(fd, signals)
        except (OSError, ImportError):
            pass
    return StreamSource(fd, signals)

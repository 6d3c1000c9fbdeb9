"""A pipe as svlog's input: a line leaves the pipe only once it is written.

Why: svscan holds a service's log pipe for as long as the service exists, and a logger
that is killed (``kill -9``, the OOM killer) is started again on the same pipe. What the
dead logger had read but not written was lost with it (measured: 59 lines of 3,000
when it was killed while paused on a full disk). So svlog never takes from the pipe
what is not in ``current`` yet: it peeks, writes, and only then discards, from the
pipe, exactly the bytes whose lines it has written. Killed at any moment, it leaves the
next logger every line it has not written; killed between a write and its discard, it
leaves lines it has written too, and the next logger writes them again (the lines of
that one peek, at most half a pipe: 32 KiB by default).

How, per piece of input:

- what the pipe holds (``FIONREAD``) beyond what the logger has already been given
  (`pending`: after a write, only the line being read, under 1000 bytes);
- peek: ``tee(2)`` the pipe's head into a private pipe of the same size, read it from
  there, skip the `pending` bytes the logger has. At most half the pipe at a time: what
  is peeked stays in the pipe until it is written, so the writer has the other half to
  write into meanwhile (measured: peeking the whole 64 KiB pipe made ``cat FILE | svlog``
  40% slower, the writer and the logger taking turns instead of working together);
- once the logger has written (`written`): ``splice(2)`` to /dev/null all the bytes it
  was given but the line being read.
- nothing new: a pipe that holds a line being read stays readable, so the wait is on
  ``epoll`` with the pipe edge-triggered (an edge comes with every write into it), beside
  the signals' wakeup pipe. Nothing new and no writer left (``POLLHUP``): end of input.
- one hole in those edges: a writer whose one ``write`` is larger than the room left
  fills the pipe and sleeps without waking the reader if the pipe was not empty when it
  went on (Linux's pipe_write wakes readers then only if the pipe was empty), and it
  is not empty while it holds a line being read. Found by a test that hung. So a wait
  with a line being read in the pipe is bounded: 1 ms, doubling up to 1 s while nothing
  comes (a handful of wake-ups a second at worst, for a service that wrote half a line
  and went quiet). A wait on an empty pipe has no hole, and no bound.

Only svlog may read the pipe (svscan holds its read end, and never reads it).
"""

from __future__ import annotations

import fcntl
import os
import select
import sys
import termios

from svlog.signals import Signals
from svlog.tee import tee

#: the part of the pipe's size one piece of input may hold at most (see peek, above)
SHARE = 2
#: seconds: the first and the longest wait on a pipe that holds a line being read
FIRST_WAIT = 0.001
LONGEST_WAIT = 1.0

_FIONREAD = termios.FIONREAD
_INT = bytes(4)


class PipeSource:
    """A pipe's bytes, peeked; `written` discards those the logger has written."""

    __slots__ = ("_fd", "_signals", "_peeked", "_copy", "_most", "_null", "_epoll",
                 "_hangup", "_bound", "pending")

    def __init__(self, fd: int, signals: Signals) -> None:
        """`OSError` if `fd` cannot be peeked at (then read it as multilog does)."""
        self._fd = fd
        self._signals = signals
        size = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        self._most = max(size // SHARE, 1)  # bytes of new input in one peek, at most
        self._peeked, self._copy = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:  # as large as the input: a peek always fits
            fcntl.fcntl(self._copy, fcntl.F_SETPIPE_SZ, size)
        except OSError:
            pass
        self._null = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
        self._epoll = select.epoll()
        self._epoll.register(fd, select.EPOLLIN | select.EPOLLET)
        self._epoll.register(signals.wakeup, select.EPOLLIN)
        self._hangup = select.poll()
        self._hangup.register(fd, select.POLLIN)
        self._bound = FIRST_WAIT  # the next wait's bound, while a line being read waits
        #: bytes at the pipe's head the logger has been given and that are still there
        self.pending = 0

    def next(self) -> bytes | None:
        """New input (after SIGTERM, up to the end of the first line only); None when a
        signal came or nothing did; b"" at end of input."""
        try:
            available = self._available()
            if available <= self.pending:
                if self._hung_up():
                    return b""
                self._wait()
                return None
            data = self._peek(min(available, self.pending + self._most))
            self._bound = FIRST_WAIT
        except OSError:  # as a read error ends multilog's input
            return b""
        if self._signals.exit:
            newline = data.find(b"\n")
            if newline >= 0:
                data = data[: newline + 1]
        self.pending += len(data)
        return data

    def written(self, held: int) -> None:
        """The logger has written all it was given but its last `held` bytes: take the
        rest from the pipe."""
        while self.pending > held:
            count = self.pending - held
            try:
                done = os.splice(self._fd, self._null, count)
            except OSError:  # a kernel that cannot splice into /dev/null: read them away
                done = len(os.read(self._fd, count))
            if not done:
                return
            self.pending -= done

    def _available(self) -> int:
        return int.from_bytes(fcntl.ioctl(self._fd, _FIONREAD, _INT), sys.byteorder)

    def _peek(self, count: int) -> bytes:
        """The pipe's first `count` bytes but the `pending` ones, left in the pipe."""
        copied = tee(self._fd, self._copy, count)
        pieces = []
        while copied > 0:
            piece = os.read(self._peeked, copied)
            pieces.append(piece)
            copied -= len(piece)
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        return data[self.pending :] if self.pending else data

    def _hung_up(self) -> bool:
        return any(events & select.POLLHUP for _, events in self._hangup.poll(0))

    def _wait(self) -> None:
        """Until something is written into the pipe, or a signal comes (or, if the pipe
        holds a line being read, for a bounded time: see the hole above)."""
        bound = -1.0
        if self.pending:
            bound, self._bound = self._bound, min(2 * self._bound, LONGEST_WAIT)
        for fd, _ in self._epoll.poll(bound):
            if fd == self._signals.wakeup:
                self._signals.drain()


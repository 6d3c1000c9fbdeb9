"""SIGTERM and SIGALRM, seen at once even while svlog waits for input or is busy.

multilog blocks both signals except while it is in ``read``, whose EINTR then sends it
round its loop. Python retries an interrupted ``read`` itself (PEP 475) unless the
handler raises, and a handler that raises could land in the middle of a rotation.
So the handlers only set a flag (the loop looks at the flags between two pieces of
input: no system call for it, which matters when input never stops), and
`set_wakeup_fd` writes each signal's number into a pipe, so that a wait for input
(``select`` or ``epoll``, with this pipe beside the input) ends when a signal comes,
even one that comes just before the wait. (`_signal`, not `signal`: the latter imports
enum, which costs more than the rest of svlog's start-up.)
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]
import os
import select

SIGTERM: int = _signal.SIGTERM
SIGALRM: int = _signal.SIGALRM


class Signals:
    """What the signals asked for: ``exit`` (SIGTERM) and ``rotate`` (SIGALRM)."""

    __slots__ = ("exit", "rotate", "wakeup")

    def __init__(self) -> None:
        self.exit = False
        self.rotate = False
        #: readable once a signal has come: a wait for input waits on it too
        self.wakeup, writer = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
        for signum in (SIGTERM, SIGALRM):
            _signal.signal(signum, self._noted)
        # Python turns SIGINT into KeyboardInterrupt; multilog just dies of it.
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)

    def _noted(self, signum: int, frame: object) -> None:
        """The Python-level handler: a flag, nothing else (it may run mid-rotation)."""
        if signum == SIGTERM:
            self.exit = True
        else:
            self.rotate = True

    def wait(self, fd: int) -> bool:
        """Block until `fd` can be read (True) or a signal came (False: see the flags)."""
        try:
            ready, _, _ = select.select([fd, self.wakeup], [], [])
        except OSError:  # fd is not open: let the read find out, as multilog's would
            return True
        if self.wakeup in ready:
            self.drain()
            return False
        return True

    def drain(self) -> None:
        """Empty the wakeup pipe (the flags were set by the handler already)."""
        while True:
            try:
                if not os.read(self.wakeup, 64):
                    return
            except BlockingIOError:
                return

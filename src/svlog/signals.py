"""SIGTERM and SIGALRM, seen at once even while svlog waits for input.

multilog blocks both signals except while it is in ``read``, whose EINTR then sends it
round its loop. Python retries an interrupted ``read`` itself (PEP 475) unless the
handler raises, and a handler that raises could land in the middle of a rotation.
So the handlers do nothing, and `set_wakeup_fd` writes each signal's number into a
pipe: svlog waits in ``select`` on its input and that pipe together, and reads the
signal numbers out of the pipe, which carries them even if one comes between the
``select`` and the ``read``. (`_signal`, not `signal`: the latter imports enum, which
costs more than the rest of svlog's start-up.)
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]
import os
import select

SIGTERM: int = _signal.SIGTERM
SIGALRM: int = _signal.SIGALRM


def _noted(signum: int, frame: object) -> None:
    """The Python-level handler: nothing; the wakeup pipe carries the signal."""


class Signals:
    """What the signals asked for: ``exit`` (SIGTERM) and ``rotate`` (SIGALRM)."""

    __slots__ = ("exit", "rotate", "_wakeup")

    def __init__(self) -> None:
        self.exit = False
        self.rotate = False
        self._wakeup, writer = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
        for signum in (SIGTERM, SIGALRM):
            _signal.signal(signum, _noted)
        # Python turns SIGINT into KeyboardInterrupt; multilog just dies of it.
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)

    def wait(self, fd: int) -> bool:
        """Block until `fd` can be read (True) or a signal came (False: see the flags)."""
        try:
            ready, _, _ = select.select([fd, self._wakeup], [], [])
        except OSError:  # fd is not open: let the read find out, as multilog's would
            return True
        if self._wakeup in ready:
            self._drain()
            return False
        return True

    def _drain(self) -> None:
        while True:
            try:
                numbers = os.read(self._wakeup, 64)
            except BlockingIOError:
                return
            if not numbers:
                return
            self.exit = self.exit or SIGTERM in numbers
            self.rotate = self.rotate or SIGALRM in numbers

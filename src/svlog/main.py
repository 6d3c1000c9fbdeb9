"""``svlog script``: multilog's loop. Read input, stamp and select lines, write them.

``exec svlog t s1000000 n20 ./main`` in a ``log/run`` does what ``multilog`` with the
same script does, with the same files (see `svlog.logdir`). The loop:

- wait for input or a signal; SIGALRM rotates every non-empty ``current`` (at a line
  boundary: a line being read is not in any file yet); SIGTERM ends the logger once
  the line being read is complete, reading the rest of it a byte at a time, as
  multilog does, so nothing after it is taken from the pipe.
- read up to 128 KiB; label the lines that start in it (``t``); give each directory its
  bytes, rotating where multilog would (`svlog.rotation`). A write that fails is retried
  until it succeeds, and no input is read meanwhile.
- at end of input a line without its newline gets one; every ``current`` is synced and
  made 0744 (a clean exit); exit 0.

Exit codes: 0 at end of input or after SIGTERM; 100 a script svlog does not know;
111 a directory that cannot be opened or locked.
"""

from __future__ import annotations

import os
import sys
import time

from svc.out import Fatal, finish
from svlog import stamp
from svlog.lines import Batch, Splitter
from svlog.logdir import LogDir
from svlog.rotation import Rotation
from svlog.script import Script, ScriptError, parse
from svlog.signals import Signals

PROG = "svlog"
READ = 1 << 17
STDIN = 0


class Logger:
    """The script's directories and line state; `take` one read, `end` at end of input."""

    __slots__ = ("_stamped", "_simple", "_splitter", "_dirs", "_rotations")

    def __init__(self, script: Script) -> None:
        self._stamped = script.timestamp
        self._simple = script.simple
        self._splitter = Splitter(script)
        self._dirs = [LogDir(d.path, d.num) for d in script.directories]
        self._rotations = [Rotation(d.size, logdir.written)
                           for d, logdir in zip(script.directories, self._dirs, strict=True)]

    @property
    def at_line_start(self) -> bool:
        return self._splitter.at_line_start

    def take(self, data: bytes) -> None:
        """One read's worth: every directory gets its lines, cut where multilog would."""
        prefix = stamp.prefix(time.time_ns()) if self._stamped else b""
        if self._simple:
            before = self._splitter.save()
            out = self._splitter.fast(data, prefix)
            if all(rotation.quiet(len(out)) for rotation in self._rotations):
                for logdir, rotation in zip(self._dirs, self._rotations, strict=True):
                    self._append(logdir, rotation, out)
                return
            self._splitter.restore(before)
        self._deliver(self._splitter.feed(data, prefix))

    def rotate(self) -> None:
        """SIGALRM: every current that holds something becomes an archive now."""
        for logdir, rotation in zip(self._dirs, self._rotations, strict=True):
            if rotation.written > 0:
                logdir.rotate()
                rotation.rotated()

    def end(self) -> None:
        """End of input (or SIGTERM at a line boundary): the last line, then a clean close."""
        self._deliver(self._splitter.end())
        for logdir in self._dirs:
            logdir.close()

    def _deliver(self, batch: Batch) -> None:
        if batch.errors:
            _say(b"".join(batch.errors))
        for index, (logdir, rotation) in enumerate(zip(self._dirs, self._rotations, strict=True)):
            if rotation.quiet(batch.size(index)):
                self._append(logdir, rotation, batch.data(index))
                continue
            for step in rotation.plan(batch.ops[index]):
                if step is None:
                    logdir.rotate()
                else:
                    logdir.write(step)

    @staticmethod
    def _append(logdir: LogDir, rotation: Rotation, data: bytes) -> None:
        if data:
            logdir.write(data)
            rotation.advance(data)


def _say(data: bytes) -> None:
    """`e`'s lines to stderr; like multilog, a stderr that refuses them is ignored."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(2, view):]
    except OSError:
        pass


def _read(size: int) -> bytes | None:
    """Some input, or None if there is none after all; a read error ends input, as it
    ends multilog's."""
    try:
        return os.read(STDIN, size)
    except BlockingIOError:  # a non-blocking input someone else read first
        return None
    except OSError:
        return b""


def run(logger: Logger, signals: Signals) -> None:
    """multilog's loop, until end of input or SIGTERM at a line boundary."""
    while True:
        if signals.rotate:
            signals.rotate = False
            logger.rotate()
        if signals.exit and logger.at_line_start:
            break
        if not signals.wait(STDIN):
            continue
        data = _read(1 if signals.exit else READ)
        if data is None:
            continue
        if not data:
            break
        logger.take(data)
    logger.end()


def main(argv: list[str] | None = None) -> int:
    os.umask(0o022)
    try:
        try:
            script = parse(sys.argv[1:] if argv is None else argv)
        except ScriptError as error:
            raise Fatal(100, str(error)) from None
        signals = Signals()
        logger = Logger(script)
    except Fatal as error:
        return finish(PROG, error)
    run(logger, signals)
    return 0


if __name__ == "__main__":
    sys.exit(main())

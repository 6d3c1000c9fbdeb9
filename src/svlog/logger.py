"""What svlog does with one read: each directory gets its lines, cut where multilog would.

Most reads end no file, and go through `Splitter.quick` at once: the whole read in a
few C calls. A read during which a file ends needs multilog's buffer operations
(`Splitter.feed`, line by line) to find the cut, but only near it: the read is taken in
1024-byte-aligned pieces (multilog's own reads): as much as surely ends no file, at
once (how much is estimated from how many bytes of output the last read made of each
byte of input); then the segments up to the cut, line by line; then the rest the same
way. A read that `quick` cannot take (a line longer than its head to be matched, a
script with two ``e``) goes line by line whole.
"""

from __future__ import annotations

import os
import time

from svlog import stamp
from svlog.lines import SEGMENT, Batch, Splitter
from svlog.logdir import LogDir
from svlog.rotation import Rotation
from svlog.script import Script

#: Output bytes per input byte, at least (a script may select few lines): a floor for the
#: estimate, learnt from each read, of how much input fits before a file ends.
MIN_GROWTH = 1 / 64


class Logger:
    """The script's directories and line state; `take` one read, `end` at end of input."""

    __slots__ = ("_stamped", "_splitter", "_dirs", "_rotations", "_rotate_due", "_cuts",
                 "_growth")

    def __init__(self, script: Script) -> None:
        """Open every directory (`Fatal` if one cannot be opened or locked)."""
        self._stamped = script.timestamp
        self._splitter = Splitter(script)
        self._dirs = [LogDir(d.path, d.num) for d in script.directories]
        self._rotations = [Rotation(d.size, logdir.written)
                           for d, logdir in zip(script.directories, self._dirs, strict=True)]
        self._rotate_due = False
        self._cuts = 0  # files ended so far
        self._growth = 1.0  # output bytes per input byte, as last seen

    @property
    def at_line_start(self) -> bool:
        return self._splitter.at_line_start

    @property
    def held(self) -> int:
        """Input bytes not in any file yet (the line being read): all the others that
        `take` was given are written when it returns."""
        return self._splitter.held

    def take(self, data: bytes) -> None:
        """One read: every line that starts in it gets the label of now (with ``t``)."""
        prefix = stamp.prefix(time.time_ns()) if self._stamped else b""
        while data:
            data = data[self._take_some(data, prefix) :]
        self._rotate_if_due()

    def rotate(self) -> None:
        """SIGALRM: every current that holds something becomes an archive, now, or if a
        long line is half written, once it ends (multilog would split it; svlog never does).
        """
        self._rotate_due = True
        self._rotate_if_due()

    def end(self) -> None:
        """End of input (or SIGTERM at a line boundary): the last line, then a clean close."""
        self._deliver(self._splitter.end())
        self._rotate_if_due()
        for logdir in self._dirs:
            logdir.close()

    # --- one read, in pieces -------------------------------------------------------------------

    def _take_some(self, data: bytes, prefix: bytes) -> int:
        """Take a beginning of `data` (all of it if no file ends in it); how many bytes."""
        room = min((rotation.room for rotation in self._rotations), default=1 << 62)
        if len(data) * self._growth < room:  # most likely no file ends: at once
            taken = self._try_quick(data, prefix)
            if taken is not None:
                return taken or self._line_by_line(data, prefix)
        part = int(room / self._growth) // SEGMENT * SEGMENT
        while SEGMENT <= part < len(data):  # what comes before the cut, at once
            taken = self._try_quick(data[:part], prefix)
            if taken is not None:
                return taken or self._line_by_line(data, prefix)
            part = part // 2 // SEGMENT * SEGMENT
        taken, cuts = 0, self._cuts  # the segments up to the cut, line by line
        while taken < len(data) and self._cuts == cuts:
            self._deliver(self._splitter.feed(data[taken : taken + SEGMENT], prefix))
            taken += SEGMENT
        return min(taken, len(data))

    def _line_by_line(self, data: bytes, prefix: bytes) -> int:
        """`quick` cannot take `data` (a long line to be matched, two ``e``): all of it
        line by line."""
        self._deliver(self._splitter.feed(data, prefix))
        return len(data)

    def _try_quick(self, data: bytes, prefix: bytes) -> int | None:
        """len(data) if it went out at once; None if a file would end in it (nothing done);
        0 if `quick` cannot take it. Learns how much output a byte of input makes."""
        before = self._splitter.save()
        quick = self._splitter.quick(data, prefix)
        if quick is None:
            return 0
        outs, errors = quick
        most = max((len(out) for out in outs), default=0)
        self._growth = max(most / len(data), MIN_GROWTH)
        if not all(rotation.quiet(len(out))
                   for rotation, out in zip(self._rotations, outs, strict=True)):
            self._splitter.restore(before)
            return None
        if errors:
            _say(b"".join(errors))
        for logdir, rotation, out in zip(self._dirs, self._rotations, outs, strict=True):
            if out:
                logdir.write(out)
                rotation.advance(out)
        return len(data)

    def _deliver(self, batch: Batch) -> None:
        """A batch of multilog's operations, written with multilog's cuts."""
        if batch.errors:
            _say(b"".join(batch.errors))
        for index, (logdir, rotation) in enumerate(zip(self._dirs, self._rotations, strict=True)):
            if rotation.quiet(batch.size(index)):
                data = batch.data(index)
                if data:
                    logdir.write(data)
                    rotation.advance(data)
                continue
            for step in rotation.plan(batch.ops[index]):
                if step is None:
                    logdir.rotate()
                    self._cuts += 1
                else:
                    logdir.write(step)

    def _rotate_if_due(self) -> None:
        if not self._rotate_due or self._splitter.mid_line:
            return
        self._rotate_due = False
        for logdir, rotation in zip(self._dirs, self._rotations, strict=True):
            if rotation.written > 0:
                logdir.rotate()
                rotation.rotated()


def _say(data: bytes) -> None:
    """`e`'s lines to stderr; like multilog, a stderr that refuses them is ignored."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(2, view) :]
    except OSError:
        pass

"""Where multilog would end ``current``: its 512-byte buffer and its write rule, replayed.

Pure. multilog writes a directory's bytes through a 512-byte buffer. Each write (a full
buffer, the buffer flushed before a read, or a head too long for the buffer) goes
through one rule: once ``current`` would hold ``size - 2000`` bytes or more, write only
up to the last newline of this write, and if the file now ends with a newline at
``size - 2000`` bytes or more, rotate it. So a file ends at the end of the last whole
line of the write that crossed ``size - 2000``, which depends on how lines were grouped
into writes: this module replays multilog's grouping, so that svlog, given the same
reads, ends its files where multilog does, byte for byte.

One deliberate difference: multilog never lets ``current`` pass ``size`` bytes, even in
the middle of a line, so a line of more than about 2000 bytes can be split between two
files. svlog finishes the line first: a line is never split, and ``current`` can pass
``size`` by the rest of that line.
"""

from __future__ import annotations

from svlog.lines import FLUSH, PUT

BUFFER = 512  # multilog's buffer per directory
SLACK = 2000  # rotate at a newline once this close to the size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    #: bytes to append to current, or None: rotate here
    Step = bytes | None


class Rotation:
    """One directory's byte count, and the cuts multilog would make in what comes next."""

    __slots__ = ("size", "written", "at_newline", "_steps", "_pending")

    def __init__(self, size: int, written: int = 0) -> None:
        self.size = size
        self.written = written  # bytes in current
        self.at_newline = True  # current is empty or ends with a newline
        self._steps: list[Step] = []
        self._pending: list[bytes] = []

    @property
    def room(self) -> int:
        """How many bytes can still be appended with no cut possible."""
        return self.size - SLACK - self.written

    @property
    def span(self) -> int:
        """The room of a new, empty current."""
        return self.size - SLACK

    def quiet(self, count: int) -> bool:
        """Whether `count` more bytes leave current below the threshold: no cut possible."""
        return count < self.room

    def advance(self, data: bytes) -> None:
        """`data` was appended to current without a cut (after `quiet` said so)."""
        if data:
            self.written += len(data)
            self.at_newline = data[-1] == 0x0A

    def rotated(self) -> None:
        """current was rotated (by a cut, or by SIGALRM): a new, empty one."""
        self.written = 0
        self.at_newline = True

    def plan(self, ops: Iterable[tuple[int, bytes]]) -> list[Step]:
        """The writes and rotations multilog would make for `ops`, in order.

        Consecutive writes are joined: svlog makes one ``write`` where multilog makes many.
        """
        self._steps, self._pending = [], []
        buffer = bytearray()
        for kind, data in ops:
            if kind == FLUSH:
                self._flush(buffer)
            elif kind == PUT:
                if len(data) > BUFFER - len(buffer):
                    self._flush(buffer)
                    if len(data) > BUFFER:
                        self._write_all(data)
                        continue
                buffer += data
            else:
                while len(data) > BUFFER - len(buffer):
                    room = BUFFER - len(buffer)
                    buffer += data[:room]
                    data = data[room:]
                    self._flush(buffer)
                buffer += data
        self._flush(buffer)
        self._settle()
        steps, self._steps = self._steps, []
        return steps

    def _flush(self, buffer: bytearray) -> None:
        if buffer:
            self._write_all(bytes(buffer))
            buffer.clear()

    def _write_all(self, chunk: bytes) -> None:
        at = 0
        while at < len(chunk):
            at += self._write(chunk, at)

    def _write(self, chunk: bytes, at: int) -> int:
        """multilog's c_write of chunk[at:]: how much of it goes into this current."""
        if self.written >= self.size and self.at_newline:
            self._cut()
        count = len(chunk) - at
        room = self.size - self.written
        if self.written + count >= self.size - SLACK:
            newline = chunk.rfind(b"\n", at, at + max(0, min(count, room)))
            if newline >= 0:
                count = newline + 1 - at
            elif count > room:  # multilog would cut the line here; finish it instead
                newline = chunk.find(b"\n", at)
                if newline >= 0:
                    count = newline + 1 - at
        self._pending.append(chunk[at : at + count])
        self.written += count
        self.at_newline = chunk[at + count - 1] == 0x0A
        if self.written >= self.size - SLACK and self.at_newline:
            self._cut()
        return count

    def _cut(self) -> None:
        self._settle()
        self._steps.append(None)
        self.rotated()

    def _settle(self) -> None:
        if self._pending:
            self._steps.append(b"".join(self._pending))
            self._pending = []

"""Input bytes into multilog's lines, and what each log directory gets from them, in order.

Pure. multilog builds each line in a 1000-byte buffer, its label included: those first
1000 bytes (the head) decide whether the line is selected and what ``e`` prints. A
longer line is not split: its rest (the tail) streams on to the directories that
selected its head. A line goes out when its newline arrives (or its head is full), and
multilog flushes its directory buffers before each read of input, 1024 bytes at most.

Two ways through, the same bytes out:

- `Splitter.quick`: each directory's bytes for a whole read, in a few C calls:
  ``bytes.replace`` puts the label after every newline, and for a script with ``+``,
  ``-`` or ``e``, `svlog.selection` picks lines with regular expressions. It gives up
  (None) on a read with a line longer than its head, or on a script with two ``e``.
- `Splitter.feed`, line by line: per directory, multilog's buffer operations in order
  (``PUT`` a head, ``PUTC`` bytes one by one, ``FLUSH`` before a read), from which
  `svlog.rotation` finds where multilog would have ended ``current``: used for a read
  during which a file ends, and where `quick` gives up. A read is cut into 1024-byte
  segments, the reads multilog would have made of the same bytes.

Labels: every line that starts in a read gets the label of that read (the time the
``read`` returned its first byte). multilog takes a new reading of the clock for each
line as its loop reaches it, microseconds apart within one read; the labels have the
same form and order, svlog's are equal within a read.
"""

from __future__ import annotations

from svlog.pattern import Pattern
from svlog.script import Directory, Script, Select, Stderr

HEAD = 1000  # multilog's line buffer, label included
SEGMENT = 1024  # multilog's read size
ELLIPSIS_AT = 200  # `e` prints this much of a longer head, then "..."

PUT = 0  # buffer_put of a line's head
PUTC = 1  # buffer_PUTC of each byte: a tail, a newline
FLUSH = 2  # buffer_flush before a read

_SELECT, _STDERR, _DIRECTORY = 0, 1, 2

TYPE_CHECKING = False
if TYPE_CHECKING:
    Op = tuple[int, bytes]
    from svlog.selection import Selection

    #: (line, label, open, tail, tail_to): where a line stands between two reads
    State = tuple[bytes, int, bool, bool, tuple[bool, ...]]
    #: each directory's bytes, and what goes to stderr
    Quick = tuple[list[bytes], list[bytes]]


class Batch:
    """What one read (or the end of input) gives: each directory's operations, and stderr."""

    __slots__ = ("ops", "errors")

    def __init__(self, directories: int) -> None:
        self.ops: list[list[Op]] = [[] for _ in range(directories)]
        self.errors: list[bytes] = []

    def size(self, index: int) -> int:
        return sum(len(data) for _, data in self.ops[index])

    def data(self, index: int) -> bytes:
        return b"".join(data for _, data in self.ops[index])

    def flush(self) -> None:
        for ops in self.ops:
            if ops and ops[-1][0] != FLUSH:
                ops.append((FLUSH, b""))


class Splitter:
    """The line being read, across reads; turns each read into what goes where."""

    __slots__ = ("_steps", "_count", "_simple", "_selection", "_line", "_label", "_open",
                 "_tail", "_tail_to")

    def __init__(self, script: Script) -> None:
        self._steps = tuple(_step(action) for action in script.actions)
        self._count = len(script.directories)
        self._simple = script.simple
        self._selection: Selection | None = None
        if not script.simple and sum(isinstance(a, Stderr) for a in script.actions) <= 1:
            # imported here: it brings `re` (and enum), which `svlog t ./main` does without
            from svlog.selection import Selection

            self._selection = Selection(script)
        self._line = bytearray()  # the head so far, label included
        self._label = 0  # the size of the label at its start
        self._open = False  # a line has begun
        self._tail = False  # its head has gone out; the rest streams
        self._tail_to: tuple[bool, ...] = ()  # the directories that selected it

    @property
    def at_line_start(self) -> bool:
        """No line begun: what multilog's SIGTERM waits for before it exits."""
        return not self._open

    @property
    def mid_line(self) -> bool:
        """Part of a line (a head of 1000 bytes, perhaps some tail) has gone out: a file
        ended now would split it."""
        return self._tail

    @property
    def held(self) -> int:
        """Bytes of input given out to no directory yet: the line being read, while its
        head is short. svlog takes the rest from a pipe (`svlog.peek`), and leaves these
        there, so that a logger killed now leaves them to the next one."""
        return len(self._line) - self._label if self._open and not self._tail else 0

    def save(self) -> State:
        return bytes(self._line), self._label, self._open, self._tail, self._tail_to

    def restore(self, state: State) -> None:
        line, self._label, self._open, self._tail, self._tail_to = state
        self._line = bytearray(line)

    def _begin(self, prefix: bytes) -> None:
        """A line begins: its head starts with its label."""
        self._open = True
        self._line = bytearray(prefix)
        self._label = len(prefix)

    # --- the quick path: whole reads ----------------------------------------------------------

    def quick(self, data: bytes, prefix: bytes) -> Quick | None:
        """Each directory's bytes for `data` and what goes to stderr, `prefix` before each
        new line; None (nothing changed) when this read needs `feed`."""
        if self._simple:
            return [self.fast(data, prefix)] * self._count, []
        if self._selection is None:
            return None
        first = data.find(b"\n")
        last = data.rfind(b"\n")
        start = first + 1 if self._open else 0
        picked = None
        if 0 <= start <= last:  # complete lines, all begun in this read: one block
            picked = self._selection.split(_stamped(data[start : last + 1], prefix), HEAD)
            if picked is None:
                return None
        out: list[list[bytes]] = [[] for _ in range(self._count)]
        errors: list[bytes] = []
        if first < 0:
            self._partial_to(data, prefix, out, errors)
        else:
            if self._open:
                self._partial_to(data[: first + 1], prefix, out, errors)
            if picked is not None:
                chosen, said = picked
                for pieces, piece in zip(out, chosen, strict=True):
                    pieces.append(piece)
                errors += said
            self._partial_to(data[last + 1 :], prefix, out, errors)
        return [b"".join(pieces) for pieces in out], errors

    def fast(self, data: bytes, prefix: bytes) -> bytes:
        """The bytes every directory gets for `data`, `prefix` before each new line.

        Only for a script whose actions are all directories.
        """
        first = data.find(b"\n")
        if first < 0:
            return self._partial(data, prefix)
        out = []
        start = 0
        if self._open:
            if not self._tail:
                out.append(bytes(self._line))
            out.append(data[: first + 1])
            self._close()
            start = first + 1
        last = data.rfind(b"\n")
        if last >= start:
            out.append(_stamped(data[start : last + 1], prefix))
        out.append(self._partial(data[last + 1 :], prefix))
        return b"".join(out)

    def _partial(self, data: bytes, prefix: bytes) -> bytes:
        """A line's bytes before its newline: held while the head is short, else out."""
        if not data:
            return b""
        if self._tail:
            return data
        if not self._open:
            self._begin(prefix)
        self._line += data
        if len(self._line) < HEAD:
            return b""
        self._tail, self._tail_to = True, (True,) * self._count
        head = bytes(self._line)
        self._line.clear()
        return head

    def _partial_to(self, data: bytes, prefix: bytes, out: list[list[bytes]],
                    errors: list[bytes]) -> None:
        """Bytes of one line (`data` ends it with a newline, or it goes on): held while
        the line goes on and its head is short, else selected and given out."""
        if not data:
            return
        ended = data.endswith(b"\n")
        if self._tail:
            chosen = self._tail_to
        else:
            if not self._open:
                self._begin(prefix)
            self._line += data
            if not ended and len(self._line) < HEAD:
                return
            data = bytes(self._line)
            chosen = self._choose((data[:-1] if ended else data)[:HEAD], errors)
            self._tail, self._tail_to = True, chosen
            self._line.clear()
        for pieces, selected in zip(out, chosen, strict=True):
            if selected:
                pieces.append(data)
        if ended:
            self._close()

    def _close(self) -> None:
        self._open = self._tail = False
        self._line.clear()

    # --- the general path: multilog's operations, segment by segment ---------------------

    def feed(self, data: bytes, prefix: bytes) -> Batch:
        """Each directory's operations for `data`, `prefix` before each new line."""
        batch = Batch(self._count)
        for start in range(0, len(data), SEGMENT):
            self._segment(data, start, min(start + SEGMENT, len(data)), prefix, batch)
            batch.flush()
        return batch

    def end(self) -> Batch:
        """End of input: a line begun gets its newline, as multilog gives it one."""
        batch = Batch(self._count)
        if self._tail:
            self._put(batch, PUTC, b"\n", self._tail_to)
        elif self._open:
            self._put_line(batch, bytes(self._line), ended=True)
        self._close()
        batch.flush()
        return batch

    def _segment(self, data: bytes, at: int, end: int, prefix: bytes, batch: Batch) -> None:
        while at < end:
            if self._tail:
                newline = data.find(b"\n", at, end)
                stop = end if newline < 0 else newline + 1
                self._put(batch, PUTC, data[at:stop], self._tail_to)
                if newline >= 0:
                    self._close()
                at = stop
                continue
            if not self._open:
                self._begin(prefix)
            room = HEAD - len(self._line)
            newline = data.find(b"\n", at, min(end, at + room))
            if newline >= 0:
                self._line += data[at:newline]
                self._put_line(batch, bytes(self._line), ended=True)
                self._close()
                at = newline + 1
            elif end - at >= room:
                self._line += data[at : at + room]
                self._tail_to = self._put_line(batch, bytes(self._line), ended=False)
                self._tail = True
                self._line.clear()
                at += room
            else:
                self._line += data[at:end]
                at = end

    def _put_line(self, batch: Batch, head: bytes, ended: bool) -> tuple[bool, ...]:
        """Decide `head`'s selection, say it on stderr if asked, give it to its directories."""
        chosen = self._choose(head, batch.errors)
        self._put(batch, PUT, head, chosen)
        if ended:
            self._put(batch, PUTC, b"\n", chosen)
        return chosen

    def _choose(self, head: bytes, errors: list[bytes]) -> tuple[bool, ...]:
        """multilog's actions in order: +/- change the selection, e and directories use it."""
        selected = True
        chosen = []
        for kind, include, pattern in self._steps:
            if kind == _SELECT:
                if selected != include and pattern is not None and pattern.matches(head):
                    selected = include
            elif kind == _DIRECTORY:
                chosen.append(selected)
            elif selected:
                errors.append(
                    head[:ELLIPSIS_AT] + b"...\n" if len(head) > ELLIPSIS_AT else head + b"\n"
                )
        return tuple(chosen)

    @staticmethod
    def _put(batch: Batch, kind: int, data: bytes, chosen: tuple[bool, ...]) -> None:
        for ops, selected in zip(batch.ops, chosen, strict=True):
            if selected:
                ops.append((kind, data))


def _stamped(block: bytes, prefix: bytes) -> bytes:
    """Complete lines (`block` ends with a newline), `prefix` before each."""
    if not prefix:
        return block
    return prefix + block[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


def _step(action: Select | Stderr | Directory) -> tuple[int, bool, Pattern | None]:
    if isinstance(action, Select):
        return _SELECT, action.include, Pattern(action.pattern)
    if isinstance(action, Stderr):
        return _STDERR, False, None
    return _DIRECTORY, False, None

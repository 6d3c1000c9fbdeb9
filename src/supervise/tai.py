"""TAI64N labels, the timestamps of daemontools' and runit's status files.

Pure and import-free: no I/O, no trio, no attrs (the clients read stamps too).
daemontools and runit label a Unix time `t` as ``2**62 + 10 + t`` seconds (they
ignore leap seconds, which s6 (skalibs) adds), and write
nanoseconds as ``usec * 1000 + 500``. The byte helpers are `supervise.layout`'s.
"""

from __future__ import annotations

from supervise.layout import TAI64_EPOCH, label_hex, stamp_bytes, stamp_of
from supervise.value import Value

__all__ = ["SIZE", "TAI64_EPOCH", "Tai64n", "TaiFormatError"]

SIZE = 12


class TaiFormatError(ValueError):
    """The bytes are not a TAI64N label."""


class Tai64n(Value):
    """A TAI64N label: seconds label and nanoseconds, exactly as stored; ordered by time."""

    __slots__ = ("seconds", "nanoseconds")
    seconds: int
    nanoseconds: int

    def __init__(self, seconds: int, nanoseconds: int = 0) -> None:
        if not 0 <= seconds < 2**64:
            raise TaiFormatError(f"TAI64 seconds label out of range: {seconds}")
        if not 0 <= nanoseconds < 10**9:
            raise TaiFormatError(f"TAI64N nanoseconds out of range: {nanoseconds}")
        self._set(seconds=seconds, nanoseconds=nanoseconds)

    @classmethod
    def unchecked(cls, seconds: int, nanoseconds: int) -> Tai64n:
        """The label as read, values not checked: daemontools' svstat does not check them either.

        (`supervise.status.unpack`, the daemon's reader, checks them.)
        """
        label = object.__new__(cls)
        label._set(seconds=seconds, nanoseconds=nanoseconds)
        return label

    def __lt__(self, other: Tai64n) -> bool:
        return self._values() < other._values()

    def __le__(self, other: Tai64n) -> bool:
        return self._values() <= other._values()

    def __gt__(self, other: Tai64n) -> bool:
        return self._values() > other._values()

    def __ge__(self, other: Tai64n) -> bool:
        return self._values() >= other._values()

    @classmethod
    def from_unix(cls, when: float) -> Tai64n:
        """Label a Unix time the way daemontools does (microseconds, then ``*1000 + 500``)."""
        usec = round(when * 1_000_000)
        secs, usec = divmod(usec, 1_000_000)
        return cls(TAI64_EPOCH + secs, usec * 1000 + 500)

    def unix(self) -> float:
        """The Unix time this label stands for."""
        return self.seconds - TAI64_EPOCH + self.nanoseconds / 1e9

    def micros(self) -> int:
        """The Unix time in whole microseconds: what `from_unix` turns back into this label.

        (`unix` of a daemontools label ends in half a microsecond, which may round either way.)
        """
        return (self.seconds - TAI64_EPOCH) * 1_000_000 + self.nanoseconds // 1000

    def pack(self) -> bytes:
        """The 12 big-endian bytes."""
        return stamp_bytes(self.seconds, self.nanoseconds)

    @classmethod
    def unpack(cls, data: bytes) -> Tai64n:
        """Read 12 bytes; a wrong length or out-of-range nanoseconds is an error."""
        if len(data) != SIZE:
            raise TaiFormatError(f"TAI64N label needs {SIZE} bytes, got {len(data)}")
        return cls(*stamp_of(data))

    def hex(self) -> str:
        """The 24 lowercase hex digits multilog and tai64n print after ``@``."""
        return label_hex(self.seconds, self.nanoseconds)

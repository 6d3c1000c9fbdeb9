"""TAI64N labels, the timestamps of daemontools' and runit's status files.

Pure: no I/O, no trio. daemontools and runit label a Unix time `t` as
``2**62 + 10 + t`` seconds (they ignore leap seconds; s6 adds them, see
protocol.md section 0.8), and write nanoseconds as ``usec * 1000 + 500``.
The bytes themselves are `supervise.layout`'s, which the clients read directly.
"""

from __future__ import annotations

import attrs

from supervise.layout import TAI64_EPOCH, label_hex, stamp_bytes, stamp_of

__all__ = ["SIZE", "TAI64_EPOCH", "Tai64n", "TaiFormatError"]

SIZE = 12


class TaiFormatError(ValueError):
    """The bytes are not a TAI64N label."""


@attrs.frozen(order=True)
class Tai64n:
    """A TAI64N label: seconds label and nanoseconds, exactly as stored."""

    seconds: int
    nanoseconds: int = 0

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.seconds < 2**64:
            raise TaiFormatError(f"TAI64 seconds label out of range: {self.seconds}")
        if not 0 <= self.nanoseconds < 10**9:
            raise TaiFormatError(f"TAI64N nanoseconds out of range: {self.nanoseconds}")

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

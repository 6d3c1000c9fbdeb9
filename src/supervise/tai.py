"""TAI64N labels, the timestamps of daemontools' and runit's status files.

Pure: no I/O, no trio. daemontools and runit label a Unix time `t` as
``2**62 + 10 + t`` seconds (they ignore leap seconds; s6 adds them, see
protocol.md section 0.8), and write nanoseconds as ``usec * 1000 + 500``.
"""

from __future__ import annotations

import struct

import attrs

#: The label of Unix second 0 in daemontools' convention.
TAI64_EPOCH = 2**62 + 10

_PACK = struct.Struct(">QL")
SIZE = _PACK.size  # 12 bytes


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

    def pack(self) -> bytes:
        """The 12 big-endian bytes."""
        return _PACK.pack(self.seconds, self.nanoseconds)

    @classmethod
    def unpack(cls, data: bytes) -> Tai64n:
        """Read 12 bytes; a wrong length or out-of-range nanoseconds is an error."""
        if len(data) != SIZE:
            raise TaiFormatError(f"TAI64N label needs {SIZE} bytes, got {len(data)}")
        seconds, nanoseconds = _PACK.unpack(data)
        return cls(seconds, nanoseconds)

    def hex(self) -> str:
        """The 24 lowercase hex digits multilog and tai64n print after ``@``."""
        return self.pack().hex()


def seconds_since(label_seconds: int, now: float) -> int:
    """Whole seconds from a stored label to `now`, as svstat counts them.

    svstat subtracts whole-second labels (nanoseconds ignored) and clamps a
    stamp in the future to 0.
    """
    return max(0, TAI64_EPOCH + int(now) - label_seconds)

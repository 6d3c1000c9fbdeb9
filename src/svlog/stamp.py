"""TAI64N labels as multilog writes them: ``@`` and 24 lowercase hex digits.

Pure. daemontools labels Unix time ``t`` (a ``gettimeofday`` value, microseconds) as
``2**62 + 10 + seconds`` and ``microseconds * 1000 + 500`` nanoseconds. The digits come
from `supervise.layout`, which imports nothing (`supervise.tai` would bring attrs, which
costs more than all of svlog's own start-up).
"""

from __future__ import annotations

from supervise.layout import TAI64_EPOCH, label_hex


def label(unix_ns: int) -> str:
    """The 24 hex digits for a Unix time in nanoseconds, truncated to microseconds first."""
    seconds, usec = divmod(unix_ns // 1000, 1_000_000)
    return label_hex(TAI64_EPOCH + seconds, usec * 1000 + 500)


def prefix(unix_ns: int) -> bytes:
    """What ``t`` puts before a line: ``@``, the label, a space."""
    return b"@" + label(unix_ns).encode("ascii") + b" "

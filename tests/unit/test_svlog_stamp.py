"""multilog's line labels: ``@``, 24 hex digits of TAI64N (microseconds * 1000 + 500), space."""

from __future__ import annotations

import pytest

from svlog.stamp import label, prefix


@pytest.mark.parametrize(
    ("unix_ns", "digits"),
    [
        (0, "400000000000000a000001f4"),
        (999, "400000000000000a000001f4"),  # below a microsecond: truncated, as gettimeofday
        (1_000, "400000000000000a000005dc"),  # 1 us: 1500 ns
        (41_999_999_999, "4000000000000033" + (999_999_500).to_bytes(4, "big").hex()),
        # a line Debian's multilog t wrote: "@400000006b01d4f53464aa94 line 1 from 25983"
        (1795282155_879012_000, "400000006b01d4f53464aa94"),
    ],
)
def test_label(unix_ns: int, digits: str) -> None:
    assert label(unix_ns) == digits
    assert prefix(unix_ns) == b"@" + digits.encode() + b" "

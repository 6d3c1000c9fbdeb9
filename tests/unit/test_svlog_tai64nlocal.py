"""tai64nlocal's conversion, as daemontools' tai64nlocal.c does it (checked against Debian's).

The time zone is fixed for these tests (``TZ=UTC``, then restored), since the output is
local time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from svlog.tai64nlocal import Converter


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


GOLDEN = [
    # observed with Debian's tai64nlocal, TZ=UTC
    (b"@400000006b02115a3877aa64 one\n", b"2026-11-21 21:46:56.947366500 one\n"),
    (b"@400000006b02115a3877aa64\n", b"2026-11-21 21:46:56.947366500\n"),
    (b"@400000006b02115a3877aa64x\n", b"2026-11-21 21:46:56.947366500x\n"),
    (b"@400000006b02115a3877aa64 partial", b"2026-11-21 21:46:56.947366500 partial"),
    (b"@400000006b02115a3877aa64", b""),  # digits up to end of input: nothing
    (b"x@400000006b02115a3877aa64 y\n", b"x@400000006b02115a3877aa64 y\n"),
    (b"plain\n", b"plain\n"),
    (b"\n", b"\n"),
    # the epoch, and nanoseconds printed with 9 digits
    (b"@400000000000000a00000000 z\n", b"1970-01-01 00:00:00.000000000 z\n"),
    (b"@400000000000000a000001f4 z\n", b"1970-01-01 00:00:00.000000500 z\n"),
    # not a time at all: daemontools' tai64nlocal crashes; svlog's leaves the line be
    (b"@4000000000000000 short\n", b"@4000000000000000 short\n"),
    (b"@foo\n", b"@foo\n"),
    (b"@\n", b"@\n"),
]


@pytest.mark.parametrize(("line", "converted"), GOLDEN)
def test_line(line: bytes, converted: bytes) -> None:
    assert Converter().line(line) == converted


def test_chunk_of_lines() -> None:
    chunk = b"a\n@400000000000000a000001f4 b\n\nc\r\n"
    assert Converter().chunk(chunk) == b"a\n1970-01-01 00:00:00.000000500 b\n\nc\r\n"


def test_uppercase_digits_end_the_label() -> None:
    """Only lowercase hex counts, as in daemontools; an uppercase one ends the digits."""
    assert Converter().line(b"@400000000000000a000001f4F z\n") == (
        b"1970-01-01 00:00:00.000000500F z\n"
    )

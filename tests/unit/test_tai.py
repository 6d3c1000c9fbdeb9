"""TAI64N labels: golden values from the real tools' files, both directions, plus properties.

daemontools and runit label Unix second `t` as ``2**62 + 10 + t`` and store
nanoseconds as ``usec * 1000 + 500``; every stamp below is one seen in a real
status file or multilog line (Debian's daemontools 0.76 and runit 2.1.2).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervise.layout import seconds_since
from supervise.tai import SIZE, TAI64_EPOCH, Tai64n, TaiFormatError

#: (unix time, label, exact 12 bytes as hex). The unix times are chosen so that
#: daemontools' microsecond rounding yields the observed nanoseconds.
GOLDEN: list[tuple[float, Tai64n, str]] = [
    # daemontools' "up (pid 383)" status record
    (1795282347.925283, Tai64n(0x400000006B01D5B5, 925283500), "400000006b01d5b53726b4ac"),
    # daemontools' "down after k" record
    (1795282349.798904, Tai64n(0x400000006B01D5B7, 798904500), "400000006b01d5b72f9e50b4"),
    # "o while down" record: sub-second part well below one tenth
    (1795282350.110737, Tai64n(0x400000006B01D5B8, 110737500), "400000006b01d5b80699b85c"),
    # "u with down file": 42 ms
    (1795282352.042778, Tai64n(0x400000006B01D5BA, 42778500), "400000006b01d5ba028cbf84"),
    # runsv's 20-byte record
    (1795282096.345077, Tai64n(0x400000006B01D4BA, 345077500), "400000006b01d4ba149176fc"),
    # multilog line "@400000006b01d4f53464aa94 line 1 from 25983", by multilog
    (1795282155.879012, Tai64n(0x400000006B01D4F5, 879012500), "400000006b01d4f53464aa94"),
    # the epoch itself and a whole second: nanoseconds are still ...500
    (0.0, Tai64n(TAI64_EPOCH, 500), "400000000000000a000001f4"),
    (1.0, Tai64n(TAI64_EPOCH + 1, 500), "400000000000000b000001f4"),
    # just before a second boundary: 999999 usec -> 999999500 ns, not a carry
    (41.999999, Tai64n(TAI64_EPOCH + 41, 999_999_500), "4000000000000033"
     + (999_999_500).to_bytes(4, "big").hex()),
]


def test_epoch_constant() -> None:
    """The label of Unix 0 is 2**62 + 10, 0x400000000000000A (cr.yp.to/libtai/tai64.html)."""
    assert TAI64_EPOCH == 0x400000000000000A == 4611686018427387914
    assert SIZE == 12


@pytest.mark.parametrize(("unix", "label", "hexed"), GOLDEN)
def test_from_unix_golden(unix: float, label: Tai64n, hexed: str) -> None:
    """A Unix time labels exactly as daemontools labels it."""
    assert Tai64n.from_unix(unix) == label


@pytest.mark.parametrize(("unix", "label", "hexed"), GOLDEN)
def test_pack_golden(unix: float, label: Tai64n, hexed: str) -> None:
    """The 12 bytes are big-endian seconds then big-endian nanoseconds."""
    assert label.pack() == bytes.fromhex(hexed)
    assert label.hex() == hexed


@pytest.mark.parametrize(("unix", "label", "hexed"), GOLDEN)
def test_unpack_golden(unix: float, label: Tai64n, hexed: str) -> None:
    """Reading the bytes gives the label back."""
    assert Tai64n.unpack(bytes.fromhex(hexed)) == label


@pytest.mark.parametrize(("unix", "label", "hexed"), GOLDEN)
def test_unix_golden(unix: float, label: Tai64n, hexed: str) -> None:
    """The label reads back as the Unix time plus the 500 ns daemontools adds."""
    assert label.unix() == pytest.approx(unix + 500e-9, abs=1e-6)


def test_hex_is_24_lowercase_digits() -> None:
    """multilog prints ``@`` + 24 lowercase hex digits; hex() is that part."""
    label = Tai64n(0x400000006B01D4F5, 0x3464AA94)
    assert label.hex() == "400000006b01d4f53464aa94"
    assert len(Tai64n(TAI64_EPOCH).hex()) == 24
    assert Tai64n(2**64 - 1, 999_999_999).hex() == "ffffffffffffffff3b9ac9ff"


def test_negative_unix_time_borrows_a_second() -> None:
    """Half a second before the epoch is label epoch-1 with 500000500 ns (floor, not trunc)."""
    assert Tai64n.from_unix(-0.5) == Tai64n(TAI64_EPOCH - 1, 500_000_500)


def test_microsecond_rounding() -> None:
    """from_unix rounds to the microsecond before adding 500 ns."""
    assert Tai64n.from_unix(10.0000004) == Tai64n(TAI64_EPOCH + 10, 500)
    assert Tai64n.from_unix(10.0000006) == Tai64n(TAI64_EPOCH + 10, 1500)
    # 0.9999996 rounds up to the next whole second
    assert Tai64n.from_unix(10.9999996) == Tai64n(TAI64_EPOCH + 11, 500)


@pytest.mark.parametrize("length", [0, 1, 8, 11, 13, 18, 24])
def test_unpack_wrong_length(length: int) -> None:
    """Only exactly 12 bytes are a label; the message says how many came."""
    with pytest.raises(TaiFormatError, match=f"got {length}"):
        Tai64n.unpack(bytes(length))


@pytest.mark.parametrize("nanoseconds", [10**9, 10**9 + 1, 2**32 - 1])
def test_unpack_nanoseconds_out_of_range(nanoseconds: int) -> None:
    """Bytes 8-11 must be below 10**9."""
    data = TAI64_EPOCH.to_bytes(8, "big") + nanoseconds.to_bytes(4, "big")
    with pytest.raises(TaiFormatError, match="nanoseconds"):
        Tai64n.unpack(data)


@pytest.mark.parametrize(
    ("seconds", "nanoseconds"), [(-1, 0), (2**64, 0), (0, -1), (0, 10**9)]
)
def test_constructor_rejects_out_of_range(seconds: int, nanoseconds: int) -> None:
    """A label that cannot be packed cannot be built either."""
    with pytest.raises(TaiFormatError):
        Tai64n(seconds, nanoseconds)


def test_tai_format_error_is_a_value_error() -> None:
    """Callers may catch ValueError for any malformed input."""
    assert issubclass(TaiFormatError, ValueError)


def test_order_follows_time() -> None:
    """Labels order by seconds, then nanoseconds."""
    assert Tai64n(5, 999) < Tai64n(6, 0) < Tai64n(6, 1)


# --- seconds_since: what svstat prints as "N seconds" ------------------------


@pytest.mark.parametrize(
    ("label_seconds", "now", "expected"),
    [
        (TAI64_EPOCH + 100, 100.0, 0),
        (TAI64_EPOCH + 100, 102.0, 2),
        # whole-second labels are subtracted: 100.9 -> 101.1 is 0.2 s but counts 1
        (TAI64_EPOCH + 100, 101.1, 1),
        # and 99.9 -> 101.4 (1.5 s) prints 2, as daemontools' svstat does
        (TAI64_EPOCH + 99, 101.4, 2),
        # a stamp in the future is clamped to 0
        (TAI64_EPOCH + 200, 100.0, 0),
        (TAI64_EPOCH + 0x6B01D5B5 - 10, 0x6B01D5B5 - 10 + 2.5, 2),
        # s6 writes real TAI (27 s ahead): read by our clock it is in the future
        (TAI64_EPOCH + 27 + 100, 110.0, 0),
    ],
)
def test_seconds_since(label_seconds: int, now: float, expected: int) -> None:
    """svstat's N: whole TAI seconds from the stamp to now, never negative."""
    assert seconds_since(label_seconds, now) == expected


# --- properties ---------------------------------------------------------------

labels = st.builds(
    Tai64n, st.integers(0, 2**64 - 1), st.integers(0, 10**9 - 1)
)


@given(labels)
def test_pack_unpack_round_trip(label: Tai64n) -> None:
    """Any label survives 12 bytes, and hex() is those bytes."""
    data = label.pack()
    assert len(data) == SIZE
    assert Tai64n.unpack(data) == label
    assert label.hex() == data.hex()


@given(st.binary(min_size=12, max_size=12))
def test_unpack_pack_round_trip(data: bytes) -> None:
    """Any 12 bytes with valid nanoseconds read back to themselves."""
    if int.from_bytes(data[8:], "big") >= 10**9:
        with pytest.raises(TaiFormatError):
            Tai64n.unpack(data)
    else:
        assert Tai64n.unpack(data).pack() == data


# Microsecond Unix times up to 2**31 s: the range where a float still holds a
# microsecond exactly enough for the round trip (and well past 2038).
micros = st.integers(0, 2**31 * 10**6)


@given(micros)
def test_from_unix_of_whole_microseconds(usec: int) -> None:
    """A Unix time with whole microseconds labels exactly, ending in 500 ns."""
    label = Tai64n.from_unix(usec / 1e6)
    assert label == Tai64n(TAI64_EPOCH + usec // 10**6, usec % 10**6 * 1000 + 500)
    assert label.nanoseconds % 1000 == 500


@given(micros)
def test_unix_from_unix_round_trip(usec: int) -> None:
    """unix() is the labelled time (plus daemontools' 500 ns); relabelling it stays within 1 us.

    Not exact: the 500 ns sit on a half microsecond, which from_unix rounds.
    """
    label = Tai64n.from_unix(usec / 1e6)
    assert label.unix() == pytest.approx(usec / 1e6 + 500e-9, abs=1e-6)
    again = Tai64n.from_unix(label.unix())
    assert again.seconds * 10**9 + again.nanoseconds - (
        label.seconds * 10**9 + label.nanoseconds
    ) in (0, 1000)


@given(micros, micros)
def test_from_unix_is_monotonic(a: int, b: int) -> None:
    """Later times never get smaller labels (the status stamp sorts by time)."""
    if a <= b:
        assert Tai64n.from_unix(a / 1e6) <= Tai64n.from_unix(b / 1e6)


@given(st.integers(0, 2**40), st.floats(0, 2**40, allow_nan=False))
def test_seconds_since_never_negative(label_offset: int, now: float) -> None:
    """svstat never prints negative seconds."""
    assert seconds_since(TAI64_EPOCH + label_offset, now) >= 0


@given(st.integers(0, 2**32 - 1), st.integers(0, 999_999))
def test_micros_gives_back_the_label(seconds: int, usec: int) -> None:
    """Unix seconds up to 2106: a float holds the microseconds exactly enough to round back."""
    label = Tai64n(TAI64_EPOCH + seconds, usec * 1000 + 500)
    assert Tai64n.from_unix(label.micros() / 1e6) == label

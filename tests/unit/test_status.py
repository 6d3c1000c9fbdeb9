"""The status record and runit's stat/pid texts, against the real tools' bytes.

Every golden record below is a hexdump (``xxd -p``) of a status file written by
Debian's daemontools 0.76 supervise (18 bytes) or runit 2.1.2 runsv (20 bytes), run in
both directions: pack(value) must give the exact bytes and unpack(bytes) the exact value.
Where the dump elides the stamp or pid ("…"), the table reuses a stamp/pid seen in the
same tool's dumps.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervise.layout import BACKOFF_SIZE, extra_matches
from supervise.status import (
    DAEMONTOOLS_SIZE,
    EXTRA_SIZE,
    EXTRA_VERSION,
    RUNIT_SIZE,
    Extra,
    ExtraFlag,
    RunState,
    Status,
    StatusFormatError,
    Want,
    pack,
    pack_extra,
    pid_text,
    stat_text,
    unpack,
    unpack_extra,
)
from supervise.tai import Tai64n

# Stamps of the dumps, label and nanoseconds as printed by xxd.
DT_UP = Tai64n(0x400000006B01D5B5, 0x3726B4AC)
DT_DOWN_AFTER_K = Tai64n(0x400000006B01D5B7, 0x2F9E50B4)
DT_ONCE = Tai64n(0x400000006B01D5B8, 0x0699B85C)
DT_PAUSE_DOWN = Tai64n(0x400000006B01D5B9, 0x1DC42BAC)
DT_UP_DOWNFILE = Tai64n(0x400000006B01D5BA, 0x028CBF84)
RUNIT = Tai64n(0x400000006B01D4BA, 0x149176FC)
RUNIT_HEX = "400000006b01d4ba149176fc"


def _hex(spaced: str) -> bytes:
    return bytes.fromhex(spaced.replace(" ", ""))


#: (what the record says, Status, exact bytes)
GOLDEN: list[tuple[str, Status, bytes]] = [
    # --- daemontools 0.76, 18 bytes: run_state None ---
    ("dt up (pid 383)",
     Status(DT_UP, 383, False, Want.UP, False, None),
     _hex("400000006b01d5b5 3726b4ac 7f010000 00 75")),
    ("dt up + p",
     Status(DT_UP, 383, True, Want.UP, False, None),
     _hex("400000006b01d5b5 3726b4ac 7f010000 01 75")),
    ("dt up, d sent, TERM ignored",
     Status(DT_UP, 383, False, Want.DOWN, False, None),
     _hex("400000006b01d5b5 3726b4ac 7f010000 00 64")),
    ("dt down after k",
     Status(DT_DOWN_AFTER_K, 0, False, Want.DOWN, False, None),
     _hex("400000006b01d5b7 2f9e50b4 00000000 00 64")),
    ("dt o while down: want byte 0",
     Status(DT_ONCE, 1040, False, Want.ONCE, False, None),
     _hex("400000006b01d5b8 0699b85c 10040000 00 00")),
    ("dt p while down: paused byte stays 0",
     Status(DT_PAUSE_DOWN, 0, False, Want.DOWN, False, None),
     _hex("400000006b01d5b9 1dc42bac 00000000 00 64")),
    ("dt u with down file (pid 1466)",
     Status(DT_UP_DOWNFILE, 1466, False, Want.UP, False, None),
     _hex("400000006b01d5ba 028cbf84 ba050000 00 75")),
    # --- runit 2.1.2, 20 bytes ---
    ("runit run (pid 18428)",
     Status(RUNIT, 18428, False, Want.UP, False, RunState.RUN),
     _hex(RUNIT_HEX + " fc470000 00 75 00 01")),
    ("runit down (sv down)",
     Status(RUNIT, 0, False, Want.DOWN, False, RunState.DOWN),
     _hex(RUNIT_HEX + " 00000000 00 64 00 00")),
    ("runit run, TERM ignored, want down: got TERM",
     Status(RUNIT, 18428, False, Want.DOWN, True, RunState.RUN),
     _hex(RUNIT_HEX + " fc470000 00 64 01 01")),
    ("runit finish (pid 20500 of ./finish), want down",
     Status(RUNIT, 20500, False, Want.DOWN, False, RunState.FINISH),
     _hex(RUNIT_HEX + " 14500000 00 64 00 02")),
    ("runit down + p while down: paused shown even when down",
     Status(RUNIT, 0, True, Want.DOWN, False, RunState.DOWN),
     _hex(RUNIT_HEX + " 00000000 01 64 00 00")),
    # --- what we write after `o`: runit layout with daemontools' want byte 0 ---
    ("ours: run once (pid 4651)",
     Status(RUNIT, 4651, False, Want.ONCE, False, RunState.RUN),
     _hex(RUNIT_HEX + " 2b120000 00 00 00 01")),
]

_IDS = [name for name, _, _ in GOLDEN]


def test_sizes() -> None:
    """daemontools writes 18 bytes, runit 20."""
    assert (DAEMONTOOLS_SIZE, RUNIT_SIZE) == (18, 20)


@pytest.mark.parametrize(("name", "status", "data"), GOLDEN, ids=_IDS)
def test_pack_golden(name: str, status: Status, data: bytes) -> None:
    """pack() writes exactly the bytes the real tools write."""
    assert pack(status) == data


@pytest.mark.parametrize(("name", "status", "data"), GOLDEN, ids=_IDS)
def test_unpack_golden(name: str, status: Status, data: bytes) -> None:
    """unpack() reads the real tools' bytes to exactly that value."""
    assert unpack(data) == status


@pytest.mark.parametrize(("name", "status", "data"), GOLDEN, ids=_IDS)
def test_daemontools_prefix_of_runit(name: str, status: Status, data: bytes) -> None:
    """The first 18 bytes of a runit record read as daemontools would read them.

    That is why daemontools' svstat reads our 20-byte file (as it reads runsv's).
    """
    head = unpack(data[:DAEMONTOOLS_SIZE])
    assert head == Status(status.stamp, status.pid, status.paused, status.want, False, None)


def test_pid_is_little_endian() -> None:
    """Bytes 12-15 hold the pid little-endian, unlike the big-endian stamp."""
    data = pack(Status(RUNIT, 0x01020304))
    assert data[12:16] == bytes((4, 3, 2, 1))


def test_defaults_are_runit_down_want_up() -> None:
    """A bare Status is a 20-byte down record wanting up."""
    assert pack(Status(RUNIT)) == _hex(RUNIT_HEX + " 00000000 00 75 00 00")


# --- malformed records ---------------------------------------------------------


@pytest.mark.parametrize("length", range(DAEMONTOOLS_SIZE))
def test_short_record(length: int) -> None:
    """Under 18 bytes is svstat's "bad format"; the message names both sizes."""
    with pytest.raises(StatusFormatError, match=rf"\b18\b.*\bgot {length}\b"):
        unpack(bytes(length))


@pytest.mark.parametrize("want_byte", [0x01, 0x55, 0x44, 0x78, 0xFF])
@pytest.mark.parametrize("size", [DAEMONTOOLS_SIZE, RUNIT_SIZE])
def test_bad_want_byte(want_byte: int, size: int) -> None:
    """Byte 17 must be 'u', 'd' or 0; the error names offset 17 and the value."""
    data = bytearray(pack(Status(RUNIT, 5, run_state=RunState.RUN))[:size])
    data[17] = want_byte
    with pytest.raises(StatusFormatError, match=rf"byte 17 .*0x{want_byte:02x}"):
        unpack(bytes(data))


@pytest.mark.parametrize("state_byte", [3, 4, 0x31, 0xFF])
def test_bad_state_byte(state_byte: int) -> None:
    """Byte 19 must be 0, 1 or 2; the error names offset 19 and the value."""
    data = bytearray(pack(Status(RUNIT, 5, run_state=RunState.RUN)))
    data[19] = state_byte
    with pytest.raises(StatusFormatError, match=rf"byte 19 .*0x{state_byte:02x}"):
        unpack(bytes(data))


def test_status_format_error_is_a_value_error() -> None:
    """Clients may catch ValueError for any malformed input."""
    assert issubclass(StatusFormatError, ValueError)


def test_bad_nanoseconds_is_a_status_format_error() -> None:
    """Nanoseconds >= 10**9 (bytes 8-11) should be a StatusFormatError naming byte 8."""
    data = _hex("400000006b01d5b5 3b9aca00 7f010000 00 75 00 01")
    with pytest.raises(StatusFormatError, match="byte 8"):
        unpack(data)


def test_nineteen_bytes_read_as_daemontools() -> None:
    """A record cut between 18 and 20 bytes has no runit state: the 19th byte is ignored."""
    data = _hex(RUNIT_HEX + " fc470000 00 75 01")
    assert unpack(data) == Status(RUNIT, 18428, False, Want.UP, False, None)


def test_encore_forty_bytes_accepted() -> None:
    """encore's 40-byte file (main + log record) is read; only the first 20 bytes count.

    encore's byte 18 is its state enum (3 = running) and byte 19 is 0; we read
    them with runit's meaning, as runit's sv would (encore's supervise.c writes them).
    """
    main = _hex("400000006b01d5b5 3726b4ac 7f010000 00 75 03 00")
    log = _hex("400000006b01d5b5 3726b4ac 80010000 00 75 03 00")
    assert unpack(main + log) == Status(DT_UP, 383, False, Want.UP, True, RunState.DOWN)


def test_longer_than_twenty_bytes_accepted() -> None:
    """Trailing bytes after 20 are ignored (sv reads 20 of a longer file)."""
    data = _hex(RUNIT_HEX + " fc470000 00 75 00 01") + b"\xff" * 7
    assert unpack(data) == Status(RUNIT, 18428, False, Want.UP, False, RunState.RUN)


# --- runit's stat and pid texts ----------------------------------------------------

STAT_CASES: list[tuple[Status, bool, bytes]] = [
    # texts runsv 2.1.2 wrote to supervise/stat
    (Status(RUNIT, 18428, False, Want.UP, False, RunState.RUN), False, b"run\n"),
    (Status(RUNIT, 0, False, Want.DOWN, False, RunState.DOWN), False, b"down\n"),
    (Status(RUNIT, 774, True, Want.UP, False, RunState.RUN), False, b"run, paused\n"),
    (Status(RUNIT, 20389, False, Want.DOWN, True, RunState.RUN), False,
     b"run, got TERM, want down\n"),
    (Status(RUNIT, 20500, False, Want.DOWN, False, RunState.FINISH), False,
     b"finish, want down\n"),
    (Status(RUNIT, 0, True, Want.DOWN, False, RunState.DOWN), False, b"down, paused\n"),
    # want exit (runit's W_EXIT) replaces want down, and only when not down
    (Status(RUNIT, 18428, False, Want.UP, False, RunState.RUN), True, b"run, want exit\n"),
    (Status(RUNIT, 18428, False, Want.DOWN, True, RunState.RUN), True,
     b"run, got TERM, want exit\n"),
    (Status(RUNIT, 20500, False, Want.DOWN, False, RunState.FINISH), True,
     b"finish, want exit\n"),
    (Status(RUNIT, 0, False, Want.DOWN, False, RunState.DOWN), True, b"down\n"),
    # want up is never printed, and want down not while down
    (Status(RUNIT, 0, False, Want.UP, False, RunState.DOWN), False, b"down\n"),
    # all words at once, in runit's fixed order
    (Status(RUNIT, 9, True, Want.DOWN, True, RunState.RUN), False,
     b"run, paused, got TERM, want down\n"),
    # once: want byte 0 says neither up nor down; sv prints no want for it either
    (Status(RUNIT, 4651, False, Want.ONCE, False, RunState.RUN), False, b"run\n"),
    # an 18-byte record has no state byte: the pid decides run or down
    (Status(DT_UP, 383, False, Want.DOWN, False, None), False, b"run, want down\n"),
    (Status(DT_DOWN_AFTER_K, 0, False, Want.DOWN, False, None), False, b"down\n"),
]


@pytest.mark.parametrize(("status", "exiting", "text"), STAT_CASES)
def test_stat_text(status: Status, exiting: bool, text: bytes) -> None:
    """supervise/stat reads exactly as runsv writes it."""
    assert stat_text(status, exiting=exiting) == text


@pytest.mark.parametrize(
    ("pid", "text"), [(18428, b"18428\n"), (1, b"1\n"), (4194304, b"4194304\n"), (0, b"")]
)
def test_pid_text(pid: int, text: bytes) -> None:
    """supervise/pid is the pid and a newline, or empty when down (runit: 6 B "18428\\n")."""
    assert pid_text(pid) == text


# --- the extra record (supervise/xstatus) ----------------------------------------

READY_STAMP = Tai64n(0x400000006B01D505, 0x0CF53350)
BOUND = Status(Tai64n(0x400000006B01D5B5, 0x3726B4AC), 383, False, Want.UP, False, RunState.RUN)
BOUND_HEX = "400000006b01d5b53726b4ac 7f010000"  # bytes 0-15 of pack(BOUND)

EXTRA_GOLDEN: list[tuple[Extra, bytes]] = [
    (Extra(), _hex(f"02 000000000000000000000000 00 00 00 {BOUND_HEX}")),
    (Extra(ExtraFlag.READY | ExtraFlag.NOTIFY | ExtraFlag.EXITED, READY_STAMP, 0, 15),
     _hex(f"02 400000006b01d5050cf53350 0d 00 0f {BOUND_HEX}")),
    (Extra(ExtraFlag.FAILED | ExtraFlag.EXITED, None, 1, 0),
     _hex(f"02 000000000000000000000000 06 01 00 {BOUND_HEX}")),
    (Extra(ExtraFlag.FINISHING | ExtraFlag.EXITED, None, 111, 0),
     _hex(f"02 000000000000000000000000 14 6f 00 {BOUND_HEX}")),
    # backing off: the start it waits for, in a 12-byte tail
    (Extra(ExtraFlag.BACKOFF | ExtraFlag.EXITED, None, 1, 0, READY_STAMP),
     _hex(f"02 000000000000000000000000 24 01 00 {BOUND_HEX} 400000006b01d5050cf53350")),
]


def test_extra_constants() -> None:
    """Version 2, 32 bytes (44 with the back-off tail), as supervise.layout lays it out."""
    assert (EXTRA_VERSION, EXTRA_SIZE, BACKOFF_SIZE) == (2, 32, 44)
    assert [int(flag) for flag in ExtraFlag] == [1, 2, 4, 8, 16, 32]


def test_extra_backoff_tail_is_invisible_to_a_32_byte_reader() -> None:
    """A reader of the first 32 bytes (an older svstat) reads a backing-off record as it
    always did; a flag without its tail gives no stamp."""
    extra = Extra(ExtraFlag.BACKOFF | ExtraFlag.EXITED, None, 1, 0, READY_STAMP)
    data = pack_extra(extra, BOUND)
    assert len(data) == BACKOFF_SIZE and extra_matches(data[:32], pack(BOUND))
    assert unpack_extra(data[:32]) == extra.replace(backoff_until=None)
    assert unpack_extra(data[:32]).flags & ExtraFlag.BACKOFF


@pytest.mark.parametrize(("extra", "data"), EXTRA_GOLDEN)
def test_extra_pack_golden(extra: Extra, data: bytes) -> None:
    """pack_extra writes version, stamp (zeros if never ready), flags, code, signal, binding."""
    assert pack_extra(extra, BOUND) == data


@pytest.mark.parametrize(("extra", "data"), EXTRA_GOLDEN)
def test_extra_unpack_golden(extra: Extra, data: bytes) -> None:
    """unpack_extra reads them back."""
    assert unpack_extra(data) == extra


@pytest.mark.parametrize(("extra", "data"), EXTRA_GOLDEN)
def test_extra_bound_to_its_status(extra: Extra, data: bytes) -> None:
    """The record matches the status it was written with, and no other."""
    assert extra_matches(data, pack(BOUND))
    assert extra_matches(data, pack(BOUND)[:18])
    assert not extra_matches(data, pack(BOUND.replace(pid=384)))
    assert not extra_matches(data, pack(BOUND.replace(stamp=READY_STAMP)))
    assert not extra_matches(data, b"")


def test_extra_binding_ignores_want_and_paused() -> None:
    """Only stamp and pid bind: a `p` or `d` rewrites status but the record still applies."""
    data = pack_extra(Extra(), BOUND)
    assert extra_matches(data, pack(BOUND.replace(paused=True, want=Want.DOWN)))


@pytest.mark.parametrize("version", [0, 1, 3, 0xFF])
def test_extra_unknown_version(version: int) -> None:
    """A record from another version is refused, naming byte 0 and the version."""
    data = bytes((version,)) + bytes(31)
    with pytest.raises(StatusFormatError, match=rf"byte 0 .*version {version}\b"):
        unpack_extra(data)


@pytest.mark.parametrize("length", [0, 1, 16, 31])
def test_extra_short(length: int) -> None:
    """A short extra record is an error naming both sizes."""
    with pytest.raises(StatusFormatError, match=rf"\b32\b.*\bgot {length}\b"):
        unpack_extra(b"\x02" * length)


def test_extra_bad_ready_nanoseconds() -> None:
    """A ready stamp with nanoseconds past 10**9 is a format error naming the bytes."""
    data = _hex(f"02 400000006b01d505 3b9aca00 01 00 00 {BOUND_HEX}")
    with pytest.raises(StatusFormatError, match="bytes 1-12"):
        unpack_extra(data)


def test_extra_longer_accepted() -> None:
    """Bytes after the 32nd are ignored (room for later versions' tails)."""
    data = _hex(f"02 400000006b01d5050cf53350 0d 00 0f {BOUND_HEX}") + b"more"
    assert unpack_extra(data) == Extra(
        ExtraFlag.READY | ExtraFlag.NOTIFY | ExtraFlag.EXITED, READY_STAMP, 0, 15
    )


# --- properties -------------------------------------------------------------------

stamps = st.builds(Tai64n, st.integers(0, 2**64 - 1), st.integers(0, 10**9 - 1))


@st.composite
def statuses(draw: st.DrawFn) -> Status:
    """Any packable Status; an 18-byte one cannot carry got-TERM."""
    run_state = draw(st.sampled_from([None, *RunState]))
    return Status(
        stamp=draw(stamps),
        pid=draw(st.integers(0, 2**32 - 1)),
        paused=draw(st.booleans()),
        want=draw(st.sampled_from(Want)),
        term_sent=False if run_state is None else draw(st.booleans()),
        run_state=run_state,
    )


@given(statuses())
def test_status_round_trip(status: Status) -> None:
    """unpack(pack(s)) == s, in 18 or 20 bytes."""
    data = pack(status)
    assert len(data) == (DAEMONTOOLS_SIZE if status.run_state is None else RUNIT_SIZE)
    assert unpack(data) == status


@given(statuses())
def test_stat_text_shape(status: Status) -> None:
    """Every stat line is one line starting with the state word."""
    text = stat_text(status)
    assert text.endswith(b"\n") and text.count(b"\n") == 1
    assert text.rstrip(b"\n").split(b", ")[0] in (b"down", b"run", b"finish")


@given(st.binary(min_size=0, max_size=48))
def test_unpack_raises_only_format_errors(data: bytes) -> None:
    """Arbitrary bytes either parse or raise a ValueError, never anything else."""
    try:
        unpack(data)
    except ValueError:
        pass


extras = st.builds(
    Extra,
    flags=st.integers(0, 255).map(ExtraFlag),
    # an all-zero stamp is the "never ready" encoding, so it is not a stamp
    ready_stamp=st.none() | stamps.filter(lambda t: t.pack() != bytes(12)),
    exit_code=st.integers(0, 255),
    exit_signal=st.integers(0, 255),
)


@given(extras, statuses())
def test_extra_round_trip(extra: Extra, record: Status) -> None:
    """unpack_extra(pack_extra(e, s)) == e, always 32 bytes, bound to s."""
    data = pack_extra(extra, record)
    assert len(data) == EXTRA_SIZE
    assert unpack_extra(data) == extra
    assert extra_matches(data, pack(record))

"""supervise.layout and supervise.record: the import-free codec every reader and writer uses.

Golden records are real hexdumps of status files of Debian's daemontools 0.76
(18 bytes) and runit 2.1.2 (20 bytes), run in both directions: record.pack of a
record must give the exact bytes and record.unpack of the bytes the exact
record. The tables below write a record's fields as a tuple (stamp seconds,
nanoseconds, pid, paused, want byte, got TERM, run state) for brevity. Where a
dump elides the stamp or pid ("…"), the table reuses one seen in the same
section. Reading is as lenient as daemontools' svstat: only the length counts.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervise import record, status
from supervise.layout import (
    BINDING,
    DAEMONTOOLS_SIZE,
    EXITED,
    EXTRA_SIZE,
    EXTRA_VERSION,
    FAILED,
    FINISHING,
    NOTIFY,
    READY,
    RUNIT_SIZE,
    STATE_DOWN,
    STATE_FINISH,
    STATE_RUN,
    TAI64_EPOCH,
    WANT_DOWN,
    WANT_ONCE,
    WANT_UP,
    StatusFormatError,
    extra_matches,
    label_hex,
    seconds_since,
    stamp_bytes,
    stamp_of,
)
from supervise.tai import Tai64n

#: A status record's fields, as the tables write them.
StatusFields = tuple[int, int, int, bool, int, bool, "int | None"]
#: An extra record's fields: flags, ready stamp (seconds, nanoseconds) or None, code, signal.
ExtraFields = tuple[int, "tuple[int, int] | None", int, int]


def _status(fields: StatusFields) -> record.Status:
    seconds, nanoseconds, pid, paused, want, term_sent, run_state = fields
    return record.Status(Tai64n.unchecked(seconds, nanoseconds), pid, paused, want, term_sent,
                         run_state)


def _fields(status: record.Status) -> StatusFields:
    return (status.stamp.seconds, status.stamp.nanoseconds, status.pid, status.paused,
            status.want, status.term_sent, status.run_state)


def pack_status(fields: StatusFields) -> bytes:
    return record.pack(_status(fields))


def unpack_status(data: bytes) -> StatusFields:
    return _fields(record.unpack(data))


def _extra(fields: ExtraFields) -> record.Extra:
    flags, ready, code, signum = fields
    stamp = None if ready is None else Tai64n.unchecked(*ready)
    return record.Extra(flags, stamp, code, signum)


def pack_extra(fields: ExtraFields, status_record: bytes) -> bytes:
    return record.pack_extra(_extra(fields), status_record)


def unpack_extra(data: bytes) -> ExtraFields:
    extra = record.unpack_extra(data)
    stamp = extra.ready_stamp
    ready = None if stamp is None else (stamp.seconds, stamp.nanoseconds)
    return extra.flags, ready, extra.exit_code, extra.exit_signal


def _hex(spaced: str) -> bytes:
    return bytes.fromhex(spaced.replace(" ", ""))


# Stamps of the dumps: (label seconds, nanoseconds) as xxd printed them.
DT_UP = (0x400000006B01D5B5, 0x3726B4AC)
DT_DOWN_AFTER_K = (0x400000006B01D5B7, 0x2F9E50B4)
DT_ONCE = (0x400000006B01D5B8, 0x0699B85C)
DT_PAUSE_DOWN = (0x400000006B01D5B9, 0x1DC42BAC)
DT_UP_DOWNFILE = (0x400000006B01D5BA, 0x028CBF84)
RUNIT = (0x400000006B01D4BA, 0x149176FC)
RUNIT_HEX = "400000006b01d4ba 149176fc"

U, D, ONCE = WANT_UP, WANT_DOWN, WANT_ONCE

#: (what the record says, fields, exact bytes)
GOLDEN: list[tuple[str, StatusFields, bytes]] = [
    # --- daemontools 0.76, 18 bytes: no term byte, run state None ---
    ("dt up (pid 383)", (*DT_UP, 383, False, U, False, None),
     _hex("400000006b01d5b5 3726b4ac 7f010000 00 75")),
    ("dt up + p", (*DT_UP, 383, True, U, False, None),
     _hex("400000006b01d5b5 3726b4ac 7f010000 01 75")),
    ("dt up, d sent, TERM ignored", (*DT_UP, 383, False, D, False, None),
     _hex("400000006b01d5b5 3726b4ac 7f010000 00 64")),
    ("dt down after k", (*DT_DOWN_AFTER_K, 0, False, D, False, None),
     _hex("400000006b01d5b7 2f9e50b4 00000000 00 64")),
    ("dt o while down: want byte 0", (*DT_ONCE, 1040, False, ONCE, False, None),
     _hex("400000006b01d5b8 0699b85c 10040000 00 00")),
    ("dt p while down: paused stays 0", (*DT_PAUSE_DOWN, 0, False, D, False, None),
     _hex("400000006b01d5b9 1dc42bac 00000000 00 64")),
    ("dt u with down file (pid 1466)", (*DT_UP_DOWNFILE, 1466, False, U, False, None),
     _hex("400000006b01d5ba 028cbf84 ba050000 00 75")),
    # --- runit 2.1.2, 20 bytes ---
    ("runit run (pid 18428)", (*RUNIT, 18428, False, U, False, STATE_RUN),
     _hex(RUNIT_HEX + " fc470000 00 75 00 01")),
    ("runit down (sv down)", (*RUNIT, 0, False, D, False, STATE_DOWN),
     _hex(RUNIT_HEX + " 00000000 00 64 00 00")),
    ("runit run, TERM ignored, want down", (*RUNIT, 18428, False, D, True, STATE_RUN),
     _hex(RUNIT_HEX + " fc470000 00 64 01 01")),
    ("runit finish, want down", (*RUNIT, 20500, False, D, False, STATE_FINISH),
     _hex(RUNIT_HEX + " 14500000 00 64 00 02")),
    ("runit down + p while down", (*RUNIT, 0, True, D, False, STATE_DOWN),
     _hex(RUNIT_HEX + " 00000000 01 64 00 00")),
]

_IDS = [name for name, _, _ in GOLDEN]


def test_constants() -> None:
    """The sizes, want bytes, states and epoch of daemontools' and runit's status files."""
    assert (DAEMONTOOLS_SIZE, RUNIT_SIZE, EXTRA_SIZE, EXTRA_VERSION) == (18, 20, 32, 2)
    assert (WANT_UP, WANT_DOWN, WANT_ONCE) == (ord("u"), ord("d"), 0)
    assert (STATE_DOWN, STATE_RUN, STATE_FINISH) == (0, 1, 2)
    assert TAI64_EPOCH == 0x400000000000000A == 4611686018427387914
    assert (READY, FAILED, EXITED, NOTIFY, FINISHING) == (1, 2, 4, 8, 16)
    assert (BINDING.start, BINDING.stop) == (16, 32)


@pytest.mark.parametrize(("name", "fields", "data"), GOLDEN, ids=_IDS)
def test_pack_status_golden(name: str, fields: StatusFields, data: bytes) -> None:
    """pack_status() writes exactly the bytes the real tools write, 18 or 20 of them."""
    assert pack_status(fields) == data


@pytest.mark.parametrize(("name", "fields", "data"), GOLDEN, ids=_IDS)
def test_unpack_status_golden(name: str, fields: StatusFields, data: bytes) -> None:
    """unpack_status() reads the real tools' bytes to exactly those fields."""
    assert unpack_status(data) == fields


@pytest.mark.parametrize(("name", "fields", "data"), GOLDEN, ids=_IDS)
def test_first_eighteen_bytes_read_as_daemontools(
    name: str, fields: StatusFields, data: bytes
) -> None:
    """Cut to 18 bytes, any record reads as daemontools': no term byte, run state None."""
    seconds, nanoseconds, pid, paused, want, _, _ = fields
    assert unpack_status(data[:18]) == (seconds, nanoseconds, pid, paused, want, False, None)


def test_eighteen_bytes_ignore_a_term_flag() -> None:
    """An 18-byte record has nowhere to put got-TERM: pack drops it, unpack says False."""
    data = pack_status((*DT_UP, 383, False, U, True, None))
    assert len(data) == 18
    assert unpack_status(data)[5:] == (False, None)


def test_nineteen_bytes_read_as_daemontools() -> None:
    """A record of 19 bytes has no run state: byte 18 is not read as got-TERM."""
    data = _hex(RUNIT_HEX + " fc470000 00 75 01")
    assert unpack_status(data) == (*RUNIT, 18428, False, U, False, None)


def test_encore_forty_bytes_accepted() -> None:
    """encore's 40 bytes (main + log record) are read; only the first 20 count.

    encore's byte 18 is its state enum (3 = running), read with runit's meaning.
    """
    main = _hex("400000006b01d5b5 3726b4ac 7f010000 00 75 03 00")
    log = _hex("400000006b01d5b5 3726b4ac 80010000 00 75 03 00")
    assert unpack_status(main + log) == (*DT_UP, 383, False, U, True, 0)


@pytest.mark.parametrize("want_byte", [0x00, 0x01, 0x44, 0x55, 0x78, 0xFF])
@pytest.mark.parametrize("size", [18, 20])
def test_any_want_byte_accepted(want_byte: int, size: int) -> None:
    """daemontools' svstat does not check byte 17, so neither does the codec."""
    data = bytearray(_hex(RUNIT_HEX + " fc470000 00 75 00 01")[:size])
    data[17] = want_byte
    assert unpack_status(bytes(data))[4] == want_byte


def test_any_state_byte_accepted() -> None:
    """Byte 19 is passed through unchecked (supervise.status is the checking reader)."""
    data = _hex(RUNIT_HEX + " fc470000 00 75 00 07")
    assert unpack_status(data)[6] == 7


def test_paused_is_any_nonzero_byte() -> None:
    """Byte 16 is a truth value: svstat tests it for nonzero."""
    data = _hex("400000006b01d5b5 3726b4ac 7f010000 02 75")
    assert unpack_status(data)[3] is True


@pytest.mark.parametrize("length", range(DAEMONTOOLS_SIZE))
def test_short_record_names_both_sizes(length: int) -> None:
    """Under 18 bytes is svstat's "bad format"; the message names 18 and the size read."""
    with pytest.raises(StatusFormatError, match=rf"\b18\b.*\bgot {length}\b"):
        unpack_status(bytes(length))


def test_status_format_error_is_a_value_error() -> None:
    """Readers may catch ValueError for any malformed record."""
    assert issubclass(StatusFormatError, ValueError)


def test_pid_little_endian_stamp_big_endian() -> None:
    """The pid (bytes 12-15) is little-endian; the stamp (0-11) is big-endian."""
    data = pack_status((0x0102030405060708, 0x090A0B0C, 0x0D0E0F10, False, U, False, None))
    assert data[:12] == bytes(range(1, 13))
    assert data[12:16] == bytes((0x10, 0x0F, 0x0E, 0x0D))


def test_stamp_helpers() -> None:
    """stamp_bytes/stamp_of are 12 big-endian bytes and inverse of each other."""
    data = stamp_bytes(*DT_UP)
    assert data == _hex("400000006b01d5b5 3726b4ac")
    assert stamp_of(data + b"trailing") == DT_UP


# --- the extra record (xstatus) -------------------------------------------------------

BOUND = _hex("400000006b01d5b5 3726b4ac 7f010000 00 75 00 01")
BOUND_HEAD = "400000006b01d5b5 3726b4ac 7f010000"  # bytes 0-15 of BOUND
READY_STAMP = (0x400000006B01D505, 0x0CF53350)

EXTRA_GOLDEN: list[tuple[ExtraFields, bytes]] = [
    ((0, None, 0, 0), _hex(f"02 000000000000000000000000 00 00 00 {BOUND_HEAD}")),
    ((READY | NOTIFY | EXITED, READY_STAMP, 0, 15),
     _hex(f"02 400000006b01d5050cf53350 0d 00 0f {BOUND_HEAD}")),
    ((FAILED | EXITED, None, 1, 0), _hex(f"02 000000000000000000000000 06 01 00 {BOUND_HEAD}")),
    ((FINISHING | EXITED, None, 111, 0),
     _hex(f"02 000000000000000000000000 14 6f 00 {BOUND_HEAD}")),
]


@pytest.mark.parametrize(("fields", "data"), EXTRA_GOLDEN)
def test_pack_extra_golden(fields: ExtraFields, data: bytes) -> None:
    """Version, ready stamp (zeros: never), flags, code, signal, then status bytes 0-15."""
    assert pack_extra(fields, BOUND) == data
    assert len(data) == EXTRA_SIZE


@pytest.mark.parametrize(("fields", "data"), EXTRA_GOLDEN)
def test_unpack_extra_golden(fields: ExtraFields, data: bytes) -> None:
    """unpack_extra reads the same bytes back to the same fields."""
    assert unpack_extra(data) == fields


@pytest.mark.parametrize(("fields", "data"), EXTRA_GOLDEN)
def test_extra_binding_is_status_head(fields: ExtraFields, data: bytes) -> None:
    """Bytes 16-31 are status bytes 0-15, whether the status has 18 or 20 bytes."""
    assert data[16:32] == BOUND[:16]
    assert pack_extra(fields, BOUND[:18]) == data


def test_extra_matches_its_status_only() -> None:
    """The record describes the status it was written with, and no other one."""
    data = pack_extra((READY, READY_STAMP, 0, 0), BOUND)
    assert extra_matches(data, BOUND)
    assert extra_matches(data, BOUND[:18])
    other_pid = BOUND[:12] + (384).to_bytes(4, "little") + BOUND[16:]
    other_stamp = stamp_bytes(*READY_STAMP) + BOUND[12:]
    assert not extra_matches(data, other_pid)
    assert not extra_matches(data, other_stamp)
    assert not extra_matches(data, b"")
    assert not extra_matches(data, BOUND[:15])


def test_extra_matches_ignores_paused_want_and_state() -> None:
    """Only stamp and pid bind: `p`, `d` or a got-TERM rewrite status, the record still applies."""
    data = pack_extra((0, None, 0, 0), BOUND)
    rewritten = BOUND[:16] + bytes((1, WANT_DOWN, 1, STATE_RUN))
    assert extra_matches(data, rewritten)


def test_extra_matches_short_extra_record() -> None:
    """A truncated xstatus cannot match a status (its binding is incomplete)."""
    data = pack_extra((0, None, 0, 0), BOUND)
    assert not extra_matches(data[:20], BOUND)


@pytest.mark.parametrize("length", [0, 1, 16, 31])
def test_unpack_extra_short(length: int) -> None:
    """A short extra record is an error naming 32 and the size read."""
    with pytest.raises(StatusFormatError, match=rf"\b32\b.*\bgot {length}\b"):
        unpack_extra(b"\x02" * length)


@pytest.mark.parametrize("version", [0, 1, 3, 0xFF])
def test_unpack_extra_other_version(version: int) -> None:
    """Another version is refused, naming byte 0 and the version found."""
    with pytest.raises(StatusFormatError, match=rf"byte 0 .*version {version}\b"):
        unpack_extra(bytes((version,)) + bytes(31))


def test_unpack_extra_longer_accepted() -> None:
    """Bytes after the 32nd are ignored."""
    data = EXTRA_GOLDEN[1][1] + b"later"
    assert unpack_extra(data) == EXTRA_GOLDEN[1][0]


# --- seconds_since and label_hex -------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "now", "seconds"),
    [
        (TAI64_EPOCH + 1000, 1000.0, 0),
        (TAI64_EPOCH + 1000, 1002.0, 2),
        # whole-second labels: the fraction of `now` is dropped...
        (TAI64_EPOCH + 1000, 1002.999, 2),
        # ...and so 1.5 s can print 2 when the stamp was late in its second
        (TAI64_EPOCH + 1000, 1001.999, 1),
        # the stamp of daemontools' "up" dump, 2 seconds later
        (DT_UP[0], 0x6B01D5B5 - 10 + 2.4, 2),
        # a stamp in the future clamps to 0
        (TAI64_EPOCH + 1000, 999.0, 0),
        (TAI64_EPOCH + 1000, 0.0, 0),
        (2**64 - 1, 1_700_000_000.0, 0),
    ],
)
def test_seconds_since(label: int, now: float, seconds: int) -> None:
    """Whole seconds from a label to `now`, as svstat counts them, never negative."""
    assert seconds_since(label, now) == seconds


def test_seconds_since_ignores_nanoseconds_of_the_stamp() -> None:
    """A stamp at x.999 and `now` at x+1.0 is 1 second, though only 1 ms passed.

    Only the label is passed, so the stamp's nanoseconds cannot count; this pins
    the daemontools arithmetic with a concrete Tai64n.
    """
    stamp = Tai64n(TAI64_EPOCH + 5000, 999_999_500)
    assert seconds_since(stamp.seconds, 5001.0) == 1


@pytest.mark.parametrize(
    ("stamp", "text"),
    [
        (DT_UP, "400000006b01d5b53726b4ac"),
        (READY_STAMP, "400000006b01d5050cf53350"),
        ((0, 0), "0" * 24),
        ((2**64 - 1, 999_999_999), "ffffffffffffffff3b9ac9ff"),
    ],
)
def test_label_hex(stamp: tuple[int, int], text: str) -> None:
    """24 lowercase hex digits, as s6-svstat prints after ``@``."""
    assert label_hex(*stamp) == text


# --- properties ---------------------------------------------------------------------

labels = st.integers(0, 2**64 - 1)
nanos = st.integers(0, 10**9 - 1)


@st.composite
def status_fields(draw: st.DrawFn) -> StatusFields:
    """Any fields pack_status can write and unpack_status reads back unchanged."""
    run_state = draw(st.none() | st.integers(0, 255))
    return (
        draw(labels), draw(nanos), draw(st.integers(0, 2**32 - 1)), draw(st.booleans()),
        draw(st.integers(0, 255)), False if run_state is None else draw(st.booleans()),
        run_state,
    )


@given(status_fields())
def test_status_round_trip(fields: StatusFields) -> None:
    """unpack_status(pack_status(f)) == f, in 18 bytes without a run state, else 20."""
    data = pack_status(fields)
    assert len(data) == (18 if fields[6] is None else 20)
    assert unpack_status(data) == fields


@given(st.binary(min_size=18, max_size=64))
def test_any_long_enough_bytes_read(data: bytes) -> None:
    """Every record of 18 bytes or more reads; re-packing gives back its first 18 or 20.

    Bytes 16 (paused) and 18 (got TERM) are truth values, so they come back as 0 or 1.
    """
    fields = unpack_status(data)
    expected = bytearray(data[: 20 if len(data) >= 20 else 18])
    for offset in range(16, len(expected), 2):  # bytes 16 and 18
        expected[offset] = int(bool(expected[offset]))
    assert pack_status(fields) == bytes(expected)


@st.composite
def statuses(draw: st.DrawFn) -> status.Status:
    """Any Status supervise.status can pack (an 18-byte one carries no got-TERM)."""
    run_state = draw(st.sampled_from([None, *status.RunState]))
    return status.Status(
        stamp=Tai64n(draw(labels), draw(nanos)),
        pid=draw(st.integers(0, 2**32 - 1)),
        paused=draw(st.booleans()),
        want=draw(st.sampled_from(status.Want)),
        term_sent=False if run_state is None else draw(st.booleans()),
        run_state=run_state,
    )


@given(statuses())
def test_checked_and_unchecked_readers_agree(typed: status.Status) -> None:
    """supervise.status (checked, enums) and supervise.record (as read) give equal records."""
    data = status.pack(typed)
    assert record.unpack(data) == typed
    assert status.unpack(data) == typed
    assert pack_status(_fields(typed)) == data


def test_checked_reader_gives_the_enum_members() -> None:
    """The daemon's reader turns bytes 17 and 19 into members; the clients' keeps the bytes."""
    data = pack_status((*RUNIT, 18428, False, U, False, STATE_RUN))
    typed, raw = status.unpack(data), record.unpack(data)
    assert typed.want is status.Want.UP and typed.run_state is status.RunState.RUN
    assert type(raw.want) is int and type(raw.run_state) is int
    assert typed == raw


ready_stamps = st.none() | st.tuples(labels, nanos).filter(lambda s: s != (0, 0))


@given(st.integers(0, 255), ready_stamps, st.integers(0, 255), st.integers(0, 255),
       st.binary(min_size=16, max_size=20))
def test_extra_round_trip(
    flags: int, ready: tuple[int, int] | None, code: int, signum: int, record: bytes
) -> None:
    """unpack_extra(pack_extra(f, s)) == f, always 32 bytes, and bound to s."""
    fields: ExtraFields = (flags, ready, code, signum)
    data = pack_extra(fields, record)
    assert len(data) == EXTRA_SIZE
    assert data[0] == EXTRA_VERSION
    assert unpack_extra(data) == fields
    assert extra_matches(data, record)

"""The bytes of ``supervise/status`` and ``supervise/xstatus``, as plain integers.

Pure, and it imports nothing: the clients (``svc``, ``svstat``, ``svok``) must
start within a few milliseconds of a bare interpreter, and ``enum``, ``typing``
and attrs each cost more than that (style.md, "A measured constraint").
`supervise.status` builds its typed view (attrs classes, enums) on these
functions, so every offset lives here and only here.

``status`` (daemontools' 18 bytes, runit's 20):

    offset  len  content
    0       12   TAI64N stamp of the last pid change (big-endian seconds, nanoseconds)
    12      4    pid, little-endian; 0 = down
    16      1    paused
    17      1    want: 'u', 'd', or 0 after ``o``
    18      1    runit: 1 = TERM sent and not yet exited
    19      1    runit: 0 down, 1 run, 2 finish

``xstatus`` (ours, version 2, 32 bytes): what ``status`` cannot hold.

    offset  len  content
    0       1    version (2)
    1       12   TAI64N stamp of readiness (zeros: never ready)
    13      1    flags: READY FAILED EXITED NOTIFY FINISHING
    14      1    exit code of the last run (with EXITED and signal 0)
    15      1    signal that killed the last run (0: it exited)
    16      16   a copy of bytes 0-15 of the ``status`` record written with it

The copy in bytes 16-31 ties the record to one status: a directory once run by
us and now by daemontools' or runit's supervisor keeps a stale ``xstatus``, and
the copy no longer matching ``status`` tells a reader to ignore it.
"""

from __future__ import annotations

#: The TAI64 label of Unix second 0 in daemontools' convention (2**62 + 10).
TAI64_EPOCH = 2**62 + 10

DAEMONTOOLS_SIZE = 18
RUNIT_SIZE = 20

WANT_UP = 0x75  # 'u'
WANT_DOWN = 0x64  # 'd'
WANT_ONCE = 0  # daemontools after `o`

STATE_DOWN = 0
STATE_RUN = 1
STATE_FINISH = 2

EXTRA_VERSION = 2
EXTRA_SIZE = 32
BINDING = slice(16, 32)  # in xstatus: the copy of status bytes 0-15

READY = 1  # the service wrote its readiness line since it last started
FAILED = 2  # finish exited 125: permanent failure, down until told `u`
EXITED = 4  # bytes 14-15 hold how ./run last ended
NOTIFY = 8  # the service has a notification-fd (readiness will be reported)
FINISHING = 16  # ./finish is running

_NO_STAMP = bytes(12)

#: (label seconds, nanoseconds, pid, paused, want byte, term sent, run state or None)
StatusFields = tuple[int, int, int, bool, int, bool, "int | None"]
#: (flags, ready stamp (seconds, nanoseconds) or None, exit code, exit signal)
ExtraFields = tuple[int, "tuple[int, int] | None", int, int]


class StatusFormatError(ValueError):
    """The bytes are not a status record; the message says which byte is at fault."""


def stamp_bytes(seconds: int, nanoseconds: int) -> bytes:
    """A TAI64N label's 12 big-endian bytes."""
    return seconds.to_bytes(8, "big") + nanoseconds.to_bytes(4, "big")


def stamp_of(data: bytes) -> tuple[int, int]:
    """(seconds, nanoseconds) of the 12-byte label at the start of `data`."""
    return int.from_bytes(data[0:8], "big"), int.from_bytes(data[8:12], "big")


def unpack_status(data: bytes) -> StatusFields:
    """The fields of a status record, as daemontools' svstat reads them: only the length counts.

    18 bytes or more; the last two fields are read only from 20 bytes or more
    (``run state`` is None for daemontools' 18 bytes). Values are not checked:
    a reader that needs them valid (`supervise.status.unpack`) checks them.
    """
    if len(data) < DAEMONTOOLS_SIZE:
        raise StatusFormatError(
            f"status record needs at least {DAEMONTOOLS_SIZE} bytes, got {len(data)}"
        )
    seconds, nanoseconds = stamp_of(data)
    pid = int.from_bytes(data[12:16], "little")
    if len(data) < RUNIT_SIZE:
        return seconds, nanoseconds, pid, bool(data[16]), data[17], False, None
    return seconds, nanoseconds, pid, bool(data[16]), data[17], bool(data[18]), data[19]


def pack_status(fields: StatusFields) -> bytes:
    """The record for `fields`: 20 bytes, or 18 when the run state is None."""
    seconds, nanoseconds, pid, paused, want, term_sent, run_state = fields
    head = stamp_bytes(seconds, nanoseconds) + pid.to_bytes(4, "little")
    head += bytes((int(paused), want))
    if run_state is None:
        return head
    return head + bytes((int(term_sent), run_state))


def unpack_extra(data: bytes) -> ExtraFields:
    """The fields of an xstatus record; a short record or another version is an error."""
    if len(data) < EXTRA_SIZE:
        raise StatusFormatError(f"extra record needs {EXTRA_SIZE} bytes, got {len(data)}")
    if data[0] != EXTRA_VERSION:
        raise StatusFormatError(
            f"byte 0 of extra record is version {data[0]}, not {EXTRA_VERSION}"
        )
    ready = None if data[1:13] == _NO_STAMP else stamp_of(data[1:13])
    return data[13], ready, data[14], data[15]


def pack_extra(fields: ExtraFields, status_record: bytes) -> bytes:
    """The xstatus record for `fields`, tied to the status record written with it."""
    flags, ready, exit_code, exit_signal = fields
    stamp = _NO_STAMP if ready is None else stamp_bytes(*ready)
    tail = bytes((flags, exit_code & 0xFF, exit_signal & 0xFF))
    return bytes((EXTRA_VERSION,)) + stamp + tail + status_record[:16]


def extra_matches(extra_record: bytes, status_record: bytes) -> bool:
    """Whether `extra_record` was written with `status_record` (and so describes it)."""
    return len(status_record) >= 16 and extra_record[BINDING] == status_record[:16]


def extra_newer(extra_record: bytes, status_record: bytes) -> bool:
    """Whether `extra_record` belongs to a status written after `status_record`.

    The writer replaces xstatus before status, so a reader can catch the new
    xstatus beside the old status for a moment. Its copy of the stamp is then
    later than the status's own (TAI64N labels compare as bytes), or the same
    with another pid: runit's stamp does not change when ./finish starts.
    """
    bound = extra_record[BINDING]
    if bound[:12] != status_record[:12]:
        return bound[:12] > status_record[:12]
    return bound[12:16] != status_record[12:16]


def seconds_since(label_seconds: int, now: float) -> int:
    """Whole seconds from a stored label to `now`, as svstat counts them.

    svstat subtracts whole-second labels (nanoseconds ignored) and clamps a
    stamp in the future to 0.
    """
    return max(0, TAI64_EPOCH + int(now) - label_seconds)


def label_hex(seconds: int, nanoseconds: int) -> str:
    """The 24 lowercase hex digits multilog and s6-svstat print after ``@``."""
    return stamp_bytes(seconds, nanoseconds).hex()

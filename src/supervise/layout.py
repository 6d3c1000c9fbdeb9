"""The bytes of ``supervise/status`` and ``supervise/xstatus``, as plain integers.

Pure, and it imports nothing: the clients (``svc``, ``svstat``, ``svok``) must
start within a few milliseconds of a bare interpreter, and ``enum``, ``typing``
and attrs each cost more than that (measured with ``python -X importtime``).
The one record type, `supervise.record.Status` (and `Extra`), is read and
written with these offsets; `supervise.status` adds the daemon's checks and
enums (`supervise.kinds`).

``status`` (daemontools' 18 bytes, runit's 20):

    offset  len  content
    0       12   TAI64N stamp of the last pid change (big-endian seconds, nanoseconds)
    12      4    pid, little-endian; 0 = down
    16      1    paused
    17      1    want: 'u', 'd', or 0 after ``o``
    18      1    runit: 1 = TERM sent and not yet exited
    19      1    runit: 0 down, 1 run, 2 finish

``xstatus`` (ours, version 2, 32 bytes, or 44 with BACKOFF): what ``status`` cannot hold.

    offset  len  content
    0       1    version (2)
    1       12   TAI64N stamp of readiness (zeros: never ready)
    13      1    flags: READY FAILED EXITED NOTIFY FINISHING BACKOFF
    14      1    exit code of the last run (with EXITED and signal 0)
    15      1    signal that killed the last run (0: it exited)
    16      16   a copy of bytes 0-15 of the ``status`` record written with it
    32      12   with BACKOFF only: TAI64N stamp of the start a crash loop's back-off waits for

The back-off stamp is a tail, not a new version: a reader of the 32 bytes
(an older svstat) reads such a record as it always did, and only while a
service is backing off is the record longer.

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
BACKOFF = 32  # down, and the next start waits for a crash loop's back-off (bytes 32-43)
BACKOFF_SIZE = 44  # xstatus with its back-off stamp

NO_STAMP = bytes(12)  # in xstatus: never ready


class StatusFormatError(ValueError):
    """The bytes are not a status record; the message says which byte is at fault."""


def stamp_bytes(seconds: int, nanoseconds: int) -> bytes:
    """A TAI64N label's 12 big-endian bytes."""
    return seconds.to_bytes(8, "big") + nanoseconds.to_bytes(4, "big")


def stamp_of(data: bytes) -> tuple[int, int]:
    """(seconds, nanoseconds) of the 12-byte label at the start of `data`."""
    return int.from_bytes(data[0:8], "big"), int.from_bytes(data[8:12], "big")


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


def seconds_until(label_seconds: int, now: float) -> int:
    """Whole seconds from `now` to a stored label in the future (0 once it is past)."""
    return max(0, label_seconds - TAI64_EPOCH - int(now))


def label_hex(seconds: int, nanoseconds: int) -> str:
    """The 24 lowercase hex digits multilog and s6-svstat print after ``@``."""
    return stamp_bytes(seconds, nanoseconds).hex()

"""The daemon's side of the status record: checked reading, the enums, runit's ``stat``/``pid``.

Pure: no I/O, no trio. The record itself is `supervise.record.Status` (and
`Extra`), the one type the clients read too; here it is read with every value
checked and its bytes turned into the enums of `supervise.kinds`. We write
runit's 20-byte layout; its first 18 bytes are daemontools' layout, so
daemontools' ``svstat`` reads it as its own and runit's ``sv`` (which insists
on 20 bytes) does too. We read 18-byte files (daemontools) and 20-byte or
longer ones (runit; encore's 40 bytes) alike.

What neither layout can say (readiness, permanent failure, last exit) goes in a
separate record, ``supervise/xstatus`` (see `Extra`), so ``status`` stays
exactly what the peers' readers expect.
"""

from __future__ import annotations

from supervise import record
from supervise.kinds import ExtraFlag, RunState, Want
from supervise.layout import (
    DAEMONTOOLS_SIZE,
    EXTRA_SIZE,
    EXTRA_VERSION,
    RUNIT_SIZE,
    StatusFormatError,
)
from supervise.record import Extra, Status, pack
from supervise.tai import Tai64n, TaiFormatError

__all__ = [
    "DAEMONTOOLS_SIZE", "EXTRA_SIZE", "EXTRA_VERSION", "RUNIT_SIZE", "Extra", "ExtraFlag",
    "RunState", "Status", "StatusFormatError", "Tai64n", "Want", "pack", "pack_extra",
    "pid_text", "stat_text", "unpack", "unpack_extra",
]


def unpack(data: bytes) -> Status:
    """Read an 18-byte (daemontools) or 20+-byte (runit, encore) record, checking every value."""
    raw = record.unpack(data)
    stamp = _checked(raw.stamp, "bytes 8-11 (from byte 8) of status record")
    want = _member(Want, raw.want, 17)
    run_state = None if raw.run_state is None else _member(RunState, raw.run_state, 19)
    return Status(stamp, raw.pid, raw.paused, want, raw.term_sent, run_state)


def _checked(stamp: Tai64n, where: str) -> Tai64n:
    try:
        return Tai64n(stamp.seconds, stamp.nanoseconds)
    except TaiFormatError as error:
        raise StatusFormatError(f"{where}: {error}") from None


TYPE_CHECKING = False  # typing costs the daemon's first pass its import time
if TYPE_CHECKING:
    from typing import TypeVar

    E = TypeVar("E", Want, RunState)


def _member(kind: type[E], value: int, offset: int) -> E:
    try:
        return kind(value)
    except ValueError:
        raise StatusFormatError(
            f"byte {offset} of status record is 0x{value:02x}, not a {kind.__name__}"
        ) from None


def stat_text(status: Status, exiting: bool = False) -> bytes:
    """runit's ``supervise/stat`` line for `status` (e.g. ``run, got TERM, want down``)."""
    return (record.stat_line(status, exiting) + "\n").encode()


def pid_text(pid: int) -> bytes:
    """runit's ``supervise/pid``: the pid and a newline, or empty when down."""
    return f"{pid}\n".encode() if pid else b""


def pack_extra(extra: Extra, status: Status) -> bytes:
    """The xstatus bytes of `extra`, tied to `status`, the status written with it."""
    return record.pack_extra(extra, pack(status))


def unpack_extra(data: bytes) -> Extra:
    """Read the extra record; an unknown version or a short record is an error."""
    raw = record.unpack_extra(data)
    stamp = raw.ready_stamp
    if stamp is not None:
        stamp = _checked(stamp, "bytes 1-12 of extra record")
    backoff = raw.backoff_until
    if backoff is not None:
        backoff = _checked(backoff, "bytes 32-43 of extra record")
    return Extra(ExtraFlag(raw.flags), stamp, raw.exit_code, raw.exit_signal, backoff)

"""The status record in ``supervise/status``, and runit's ``stat``/``pid`` texts.

Pure: no I/O, no trio. A typed view (attrs classes, enums) over the bytes that
`supervise.layout` reads and writes; the offsets are documented there. We write
runit's 20-byte layout; its first 18 bytes are daemontools' layout, so
daemontools' ``svstat`` reads it as its own and runit's ``sv`` (which insists on
20 bytes) does too. We read 18-byte files (daemontools) and 20-byte or longer
ones (runit; encore's 40 bytes) alike.

What neither layout can say (readiness, permanent failure, last exit) goes in a
separate record, ``supervise/xstatus`` (see `Extra`), so ``status`` stays
exactly what the peers' readers expect.
"""

from __future__ import annotations

import enum
from typing import TypeVar

import attrs

from supervise import layout
from supervise.layout import (
    DAEMONTOOLS_SIZE,
    EXTRA_SIZE,
    EXTRA_VERSION,
    RUNIT_SIZE,
    StatusFormatError,
)
from supervise.tai import Tai64n, TaiFormatError

__all__ = [
    "DAEMONTOOLS_SIZE", "EXTRA_SIZE", "EXTRA_VERSION", "RUNIT_SIZE", "Extra", "ExtraFlag",
    "RunState", "Status", "StatusFormatError", "Want", "pack", "pack_extra", "pid_text",
    "stat_text", "unpack", "unpack_extra",
]

E = TypeVar("E", bound=enum.Enum)


class Want(enum.Enum):
    """Byte 17: what the supervisor wants the service to be."""

    UP = layout.WANT_UP
    DOWN = layout.WANT_DOWN
    ONCE = layout.WANT_ONCE  # daemontools after `o`: run once, never restart


class RunState(enum.Enum):
    """Byte 19 (runit): what is running now."""

    DOWN = layout.STATE_DOWN
    RUN = layout.STATE_RUN
    FINISH = layout.STATE_FINISH


@attrs.frozen
class Status:
    """One status record. `run_state` is None for an 18-byte daemontools file."""

    stamp: Tai64n
    pid: int = 0
    paused: bool = False
    want: Want = Want.UP
    term_sent: bool = False
    run_state: RunState | None = RunState.DOWN


def pack(status: Status) -> bytes:
    """The record's bytes: 20 (runit), or 18 when `run_state` is None."""
    run_state = None if status.run_state is None else status.run_state.value
    return layout.pack_status((
        status.stamp.seconds, status.stamp.nanoseconds, status.pid, status.paused,
        status.want.value, status.term_sent, run_state,
    ))


def unpack(data: bytes) -> Status:
    """Read an 18-byte (daemontools) or 20+-byte (runit, encore) record, checking every value."""
    seconds, nanoseconds, pid, paused, want_byte, term_sent, state_byte = (
        layout.unpack_status(data)
    )
    try:
        stamp = Tai64n(seconds, nanoseconds)
    except TaiFormatError as error:
        raise StatusFormatError(f"bytes 8-11 (from byte 8) of status record: {error}") from None
    want = _enum_at(Want, want_byte, 17)
    run_state = None if state_byte is None else _enum_at(RunState, state_byte, 19)
    return Status(stamp, pid, paused, want, term_sent, run_state)


def _enum_at(kind: type[E], value: int, offset: int) -> E:
    try:
        return kind(value)
    except ValueError:
        raise StatusFormatError(
            f"byte {offset} of status record is 0x{value:02x}, not a {kind.__name__}"
        ) from None


def stat_text(status: Status, exiting: bool = False) -> bytes:
    """runit's ``supervise/stat`` line for `status` (e.g. ``run, got TERM, want down``)."""
    state = status.run_state or (RunState.RUN if status.pid else RunState.DOWN)
    words = [state.name.lower()]
    if status.paused:
        words.append("paused")
    if status.term_sent:
        words.append("got TERM")
    if state is not RunState.DOWN:
        if exiting:
            words.append("want exit")
        elif status.want is Want.DOWN:
            words.append("want down")
    return (", ".join(words) + "\n").encode()


def pid_text(pid: int) -> bytes:
    """runit's ``supervise/pid``: the pid and a newline, or empty when down."""
    return f"{pid}\n".encode() if pid else b""


# ---------------------------------------------------------------------------
# The extra record (supervise/xstatus): what daemontools' 18 bytes cannot hold.


class ExtraFlag(enum.IntFlag):
    """Byte 13 of the extra record."""

    READY = layout.READY
    FAILED = layout.FAILED
    EXITED = layout.EXITED
    NOTIFY = layout.NOTIFY
    FINISHING = layout.FINISHING


@attrs.frozen
class Extra:
    """Readiness, permanent failure and the last exit of ./run (layout in `supervise.layout`)."""

    flags: ExtraFlag = ExtraFlag(0)
    ready_stamp: Tai64n | None = None
    exit_code: int = 0
    exit_signal: int = 0


def pack_extra(extra: Extra, record: Status) -> bytes:
    """The xstatus bytes of `extra`, tied to `record`, the status written with it."""
    ready = None if extra.ready_stamp is None else (
        extra.ready_stamp.seconds, extra.ready_stamp.nanoseconds
    )
    fields = (int(extra.flags), ready, extra.exit_code, extra.exit_signal)
    return layout.pack_extra(fields, pack(record))


def unpack_extra(data: bytes) -> Extra:
    """Read the extra record; an unknown version or a short record is an error."""
    flags, ready, exit_code, exit_signal = layout.unpack_extra(data)
    try:
        stamp = None if ready is None else Tai64n(*ready)
    except TaiFormatError as error:
        raise StatusFormatError(f"bytes 1-12 of extra record: {error}") from None
    return Extra(ExtraFlag(flags), stamp, exit_code, exit_signal)

"""The status record in ``supervise/status``, and runit's ``stat``/``pid`` texts.

Pure: no I/O, no trio. We write runit's 20-byte layout; its first 18 bytes are
daemontools' layout, so daemontools' ``svstat`` reads it as its own and runit's
``sv`` (which insists on 20 bytes) does too. We read 18-byte files (daemontools)
and 20-byte or longer ones (runit; encore's 40 bytes) alike.

    offset  len  content
    0       12   TAI64N stamp of the last pid change (big-endian)
    12      4    pid, little-endian; 0 = down
    16      1    paused (1 only while up and paused)
    17      1    want: 'u', 'd', or 0 after ``o`` (daemontools' "once")
    18      1    runit: 1 = TERM sent and not yet exited
    19      1    runit: 0 down, 1 run, 2 finish

What neither layout can say (readiness, permanent failure, last exit) goes in a
separate 16-byte record, ``supervise/xstatus`` (see `Extra`), so ``status``
stays exactly what the peers' readers expect.
"""

from __future__ import annotations

import enum
import struct
from typing import TypeVar

import attrs

from supervise.tai import Tai64n, TaiFormatError

DAEMONTOOLS_SIZE = 18
RUNIT_SIZE = 20


E = TypeVar("E", bound=enum.Enum)


class StatusFormatError(ValueError):
    """The bytes are not a status record; the message says which byte is at fault."""


class Want(enum.Enum):
    """Byte 17: what the supervisor wants the service to be."""

    UP = ord("u")
    DOWN = ord("d")
    ONCE = 0  # daemontools after `o`: run once, never restart


class RunState(enum.Enum):
    """Byte 19 (runit): what is running now."""

    DOWN = 0
    RUN = 1
    FINISH = 2


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
    head = status.stamp.pack() + struct.pack(
        "<LBB", status.pid, int(status.paused), status.want.value
    )
    if status.run_state is None:
        return head
    return head + bytes((int(status.term_sent), status.run_state.value))


def unpack(data: bytes) -> Status:
    """Read an 18-byte (daemontools) or 20+-byte (runit, encore) record."""
    if len(data) < DAEMONTOOLS_SIZE:
        raise StatusFormatError(
            f"status record needs at least {DAEMONTOOLS_SIZE} bytes, got {len(data)}"
        )
    try:
        stamp = Tai64n.unpack(data[:12])
    except TaiFormatError as error:
        raise StatusFormatError(f"bytes 8-11 (from byte 8) of status record: {error}") from None
    pid, paused, want_byte = struct.unpack("<LBB", data[12:18])
    want = _enum_at(Want, want_byte, 17)
    if len(data) < RUNIT_SIZE:
        return Status(stamp, pid, bool(paused), want, False, None)
    run_state = _enum_at(RunState, data[19], 19)
    return Status(stamp, pid, bool(paused), want, bool(data[18]), run_state)


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

EXTRA_VERSION = 1
EXTRA_SIZE = 16
_NO_STAMP = bytes(12)


class ExtraFlag(enum.IntFlag):
    """Byte 13 of the extra record."""

    READY = 1  # the service wrote its readiness line since it last started
    FAILED = 2  # finish exited 125: permanent failure, down until told `u`
    EXITED = 4  # bytes 14-15 hold how ./run last ended
    NOTIFY = 8  # the service has a notification-fd (readiness will be reported)
    FINISHING = 16  # ./finish is running


@attrs.frozen
class Extra:
    """Readiness, permanent failure and the last exit of ./run.

    Layout: byte 0 version (1); bytes 1-12 TAI64N stamp of readiness (zeros
    if never ready); byte 13 `ExtraFlag`; byte 14 the exit code of the last
    run (valid with EXITED and signal 0); byte 15 the signal that killed it.
    """

    flags: ExtraFlag = ExtraFlag(0)
    ready_stamp: Tai64n | None = None
    exit_code: int = 0
    exit_signal: int = 0


def pack_extra(extra: Extra) -> bytes:
    """The 16 bytes of `extra`."""
    stamp = extra.ready_stamp.pack() if extra.ready_stamp else _NO_STAMP
    tail = bytes((int(extra.flags), extra.exit_code & 0xFF, extra.exit_signal & 0xFF))
    return bytes((EXTRA_VERSION,)) + stamp + tail


def unpack_extra(data: bytes) -> Extra:
    """Read the extra record; an unknown version or a short record is an error."""
    if len(data) < EXTRA_SIZE:
        raise StatusFormatError(f"extra record needs {EXTRA_SIZE} bytes, got {len(data)}")
    if data[0] != EXTRA_VERSION:
        raise StatusFormatError(f"byte 0 of extra record is version {data[0]}, not 1")
    stamp = None if data[1:13] == _NO_STAMP else Tai64n.unpack(data[1:13])
    return Extra(ExtraFlag(data[13]), stamp, data[14], data[15])

"""The status record: one type, read and written by the daemon and every client.

`Status` is ``supervise/status`` (daemontools' 18 bytes, runit's 20), `Extra`
is our ``supervise/xstatus`` (offsets in `supervise.layout`). Plain classes
with ``__slots__`` (`supervise.value.Value`) and no import beyond our own
import-free modules, so ``svstat`` pays nothing for them.

`unpack` reads as daemontools' svstat reads: only the length counts, values
are not checked, ``want`` and ``run_state`` are the bytes themselves.
`supervise.status.unpack` (the daemon's reader) checks every value and gives
the enum members of `supervise.kinds` (int enums: equal to those bytes).

The words for states and wants are here too, once, for runit's ``stat``,
svstat's fields and svscan's dump.
"""

from __future__ import annotations

from supervise import layout
from supervise.layout import (
    BACKOFF,
    BACKOFF_SIZE,
    DAEMONTOOLS_SIZE,
    EXTRA_SIZE,
    EXTRA_VERSION,
    NO_STAMP,
    RUNIT_SIZE,
    STATE_DOWN,
    STATE_FINISH,
    STATE_RUN,
    WANT_DOWN,
    WANT_ONCE,
    WANT_UP,
    StatusFormatError,
)
from supervise.tai import Tai64n
from supervise.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from supervise.kinds import ExtraFlag, RunState, Want

#: run state -> runit's word: ``supervise/stat``, ``svstat -o state``
STATE_WORDS = {STATE_DOWN: "down", STATE_RUN: "run", STATE_FINISH: "finish"}
#: run state -> the word a line starts with (svscan's dump): daemontools says "up" for run
LINE_WORDS = {STATE_DOWN: "down", STATE_RUN: "up", STATE_FINISH: "finish"}
#: want byte -> its word: svscan's dump, ``svstat -o want``
WANT_WORDS = {WANT_UP: "up", WANT_DOWN: "down", WANT_ONCE: "once"}


class Status(Value):
    """One status record. `run_state` is None for an 18-byte daemontools file."""

    __slots__ = ("stamp", "pid", "paused", "want", "term_sent", "run_state")
    stamp: Tai64n
    pid: int
    paused: bool
    want: Want
    term_sent: bool
    run_state: RunState | None

    def __init__(
        self,
        stamp: Tai64n,
        pid: int = 0,
        paused: bool = False,
        want: Want | int = WANT_UP,
        term_sent: bool = False,
        run_state: RunState | int | None = STATE_DOWN,
    ) -> None:
        self._set(stamp=stamp, pid=pid, paused=paused, want=want, term_sent=term_sent,
                  run_state=run_state)

    @property
    def state(self) -> int:
        """What runs now: runit's byte 19; for daemontools' 18 bytes, run if there is a pid."""
        if self.run_state is None:
            return STATE_RUN if self.pid else STATE_DOWN
        return self.run_state


class Extra(Value):
    """Readiness, permanent failure, the last exit of ./run and a crash loop's back-off
    (``supervise/xstatus``). `backoff_until` is kept only with the BACKOFF flag."""

    __slots__ = ("flags", "ready_stamp", "exit_code", "exit_signal", "backoff_until")
    flags: ExtraFlag | int
    ready_stamp: Tai64n | None
    exit_code: int
    exit_signal: int
    backoff_until: Tai64n | None

    def __init__(
        self,
        flags: ExtraFlag | int = 0,
        ready_stamp: Tai64n | None = None,
        exit_code: int = 0,
        exit_signal: int = 0,
        backoff_until: Tai64n | None = None,
    ) -> None:
        self._set(flags=flags, ready_stamp=ready_stamp, exit_code=exit_code,
                  exit_signal=exit_signal, backoff_until=backoff_until)


def unpack(data: bytes) -> Status:
    """The record in `data`: 18 bytes or more; byte 18 and 19 only from 20 bytes on."""
    if len(data) < DAEMONTOOLS_SIZE:
        raise StatusFormatError(
            f"status record needs at least {DAEMONTOOLS_SIZE} bytes, got {len(data)}"
        )
    stamp = Tai64n.unchecked(*layout.stamp_of(data))
    pid = int.from_bytes(data[12:16], "little")
    if len(data) < RUNIT_SIZE:
        return Status(stamp, pid, bool(data[16]), data[17], False, None)
    return Status(stamp, pid, bool(data[16]), data[17], bool(data[18]), data[19])


def pack(status: Status) -> bytes:
    """The record's bytes: 20 (runit), or 18 when `run_state` is None."""
    head = status.stamp.pack() + status.pid.to_bytes(4, "little")
    head += bytes((int(status.paused), status.want))
    if status.run_state is None:
        return head
    return head + bytes((int(status.term_sent), status.run_state))


def unpack_extra(data: bytes) -> Extra:
    """The xstatus record; a short record or another version is an error (values unchecked)."""
    if len(data) < EXTRA_SIZE:
        raise StatusFormatError(f"extra record needs {EXTRA_SIZE} bytes, got {len(data)}")
    if data[0] != EXTRA_VERSION:
        raise StatusFormatError(
            f"byte 0 of extra record is version {data[0]}, not {EXTRA_VERSION}"
        )
    ready = None if data[1:13] == NO_STAMP else Tai64n.unchecked(*layout.stamp_of(data[1:13]))
    backoff = None
    if data[13] & BACKOFF and len(data) >= BACKOFF_SIZE:
        backoff = Tai64n.unchecked(*layout.stamp_of(data[EXTRA_SIZE:BACKOFF_SIZE]))
    return Extra(data[13], ready, data[14], data[15], backoff)


def pack_extra(extra: Extra, status_record: bytes) -> bytes:
    """The xstatus bytes of `extra`, tied to `status_record`, the status written with it."""
    stamp = NO_STAMP if extra.ready_stamp is None else extra.ready_stamp.pack()
    tail = bytes((extra.flags, extra.exit_code & 0xFF, extra.exit_signal & 0xFF))
    data = bytes((EXTRA_VERSION,)) + stamp + tail + status_record[:16]
    if extra.flags & BACKOFF and extra.backoff_until is not None:
        data += extra.backoff_until.pack()
    return data


def stat_line(status: Status, exiting: bool = False) -> str:
    """runit's ``supervise/stat`` line (e.g. ``run, got TERM, want down``), no newline."""
    state = status.state
    words = [STATE_WORDS[state]]
    if status.paused:
        words.append("paused")
    if status.term_sent:
        words.append("got TERM")
    if state != STATE_DOWN:
        if exiting:
            words.append("want exit")
        elif status.want == WANT_DOWN:
            words.append("want down")
    return ", ".join(words)

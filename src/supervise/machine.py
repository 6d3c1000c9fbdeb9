"""The supervision state machine of one service directory, as data.

Pure: no I/O, no trio, no clock. `step(state, event, now)` returns the new
state and the actions the driver must carry out, in order. Every
(phase, input) pair has a cell in `TABLE`, like s6-supervise's action grid;
a cell that does nothing says so (`_ignore`) rather than being absent.

Meanings follow daemontools where it has one (``x`` exits once the service is
down and does not stop it; ``o`` writes want byte 0), runit for ``finish`` and
the status bytes 18-19, s6 for ``timeout-kill``, ``down-signal``,
``notification-fd`` and the permanent failure a ``finish`` exit of 125 means.
Starts are at most one a second, but unlike daemontools the machine never
blocks: a start that is too early becomes a timer, and control bytes that
arrive meanwhile are handled at once.
"""

from __future__ import annotations

import enum
import signal
from collections.abc import Callable
from typing import TypeAlias

import attrs

from supervise.control import SIGNALS, Command
from supervise.status import Extra, ExtraFlag, RunState, Status, Want, stat_text
from supervise.tai import Tai64n

#: Minimum seconds between two starts of ./run (every peer has this).
START_INTERVAL = 1.0
#: After timeout-kill fired, SIGKILL is repeated this often (s6).
KILL_REPEAT = 5.0
#: Exit code of ./finish that means "permanent failure: stay down" (s6).
PERMANENT_FAILURE = 125
#: Longest wait before retrying a start that could not spawn.
MAX_SPAWN_BACKOFF = 10.0
#: (code, signal) of a ./run whose exit status we cannot know (see `RunExited`).
UNKNOWN_EXIT = (None, 0)


class Phase(enum.Enum):
    """What is running: nothing, ./run, or ./finish (runit's byte 19)."""

    DOWN = 0
    RUN = 1
    FINISH = 2


class Timer(enum.Enum):
    """The driver keeps one pending deadline per timer; setting one replaces it."""

    START = "start"  # the next start, when throttled or retrying a failed spawn
    KILL = "kill"  # timeout-kill after a `d`
    FINISH = "finish"  # timeout-finish while ./finish runs


# --- inputs ------------------------------------------------------------------


@attrs.frozen
class Control:
    """A control byte, already parsed."""

    command: Command


@attrs.frozen
class Spawned:
    """./run was started with this pid."""

    pid: int


@attrs.frozen
class SpawnFailed:
    """./run could not be started (exec or fork failed); the driver logged why."""


@attrs.frozen
class RunExited:
    """./run ended: exit `code` (None if killed) and `signal` (0 if it exited).

    `has_finish` says whether an executable ./finish exists now. (None, 0) is
    `UNKNOWN_EXIT`: an adopted ./run, not our child, whose status we never see.
    """

    code: int | None
    signal: int = 0
    has_finish: bool = False


@attrs.frozen
class FinishSpawned:
    """./finish was started with this pid."""

    pid: int


@attrs.frozen
class FinishExited:
    """./finish ended with `code` (None if killed or if it could not start)."""

    code: int | None


@attrs.frozen
class Ready:
    """The service wrote its readiness line on its notification fd."""


@attrs.frozen
class TimerDue:
    """A deadline set with `SetTimer` or `ArmTimeout` has passed."""

    timer: Timer


@attrs.frozen
class Shutdown:
    """The daemon is stopping: bring the service down, then exit.

    `force` (a second SIGTERM/SIGINT) kills what still runs.
    """

    force: bool = False


Event: TypeAlias = (
    Control | Spawned | SpawnFailed | RunExited | FinishSpawned | FinishExited | Ready
    | TimerDue | Shutdown
)

# --- actions -----------------------------------------------------------------


@attrs.frozen
class Spawn:
    """Start ./run, then feed back `Spawned` or `SpawnFailed`."""


@attrs.frozen
class SpawnFinish:
    """Start ./finish with these arguments, then feed back `FinishSpawned`/`FinishExited`."""

    code: int
    signal: int


@attrs.frozen
class Signal:
    """Send `signum` to the current pid (the main pid only, never its group)."""

    signum: int


@attrs.frozen
class SendDownSignal:
    """Send the service's down-signal (``down-signal`` file, default SIGTERM)."""


@attrs.frozen
class SetTimer:
    """(Re)arm `timer` to fire `delay` seconds from now."""

    timer: Timer
    delay: float


@attrs.frozen
class ArmTimeout:
    """Arm `timer` with the service's own setting (timeout-kill, timeout-finish).

    The driver reads the setting now, as s6 does; absent or 0 means no timer.
    """

    timer: Timer


@attrs.frozen
class CancelTimer:
    """Disarm `timer`."""

    timer: Timer


@attrs.frozen
class Exit:
    """Stop supervising this directory: close control/ok, release the lock."""


Action: TypeAlias = (
    Spawn | SpawnFinish | Signal | SendDownSignal | SetTimer | ArmTimeout | CancelTimer | Exit
)

# --- state -------------------------------------------------------------------


@attrs.frozen
class State:
    """Everything the machine knows about one service.

    `pid` is the pid of ./run, or of ./finish while it runs (as runit shows
    it). `stamp` is the Unix time of the last start or of going down: the
    status file's stamp. `last_start` drives the one-start-a-second rule.
    """

    phase: Phase = Phase.DOWN
    want: Want = Want.UP
    paused: bool = False
    term_sent: bool = False
    exiting: bool = False
    failed: bool = False
    ready: bool = False
    start_pending: bool = False
    pid: int = 0
    stamp: float = 0.0
    ready_stamp: float | None = None
    last_start: float | None = None
    spawn_failures: int = 0
    last_exit: tuple[int | None, int] | None = None


@attrs.frozen
class Transition:
    """The result of one step."""

    state: State
    actions: tuple[Action, ...] = ()


def initial(now: float, down_file: bool) -> Transition:
    """The state at supervisor start: want down if ``down`` exists, else start."""
    state = State(want=Want.DOWN if down_file else Want.UP, stamp=now)
    if down_file:
        return Transition(state)
    return _start(state, now)


def adopted(record: Status, extra: Extra | None) -> State:
    """The state of a ./run (or ./finish) left running by a supervisor that died.

    `record` is the status that supervisor wrote last, `extra` its xstatus if
    bound to that status. The process is the driver's to verify (same pid,
    same start time); the state carries on from the record: its stamp, want,
    pause, TERM sent, and readiness as far as it was reported.
    """
    phase = Phase.FINISH if record.run_state is RunState.FINISH else Phase.RUN
    flags = ExtraFlag(0) if extra is None else extra.flags
    started = record.stamp.micros() / 1e6  # as written: from_unix gives back the same label
    ready = phase is Phase.RUN and bool(flags & ExtraFlag.READY)
    ready_stamp = None
    if ready and extra is not None and extra.ready_stamp is not None:
        ready_stamp = extra.ready_stamp.micros() / 1e6
    return State(
        phase=phase, want=record.want, paused=record.paused, term_sent=record.term_sent,
        failed=bool(flags & ExtraFlag.FAILED), ready=ready, ready_stamp=ready_stamp,
        pid=record.pid, stamp=started, last_start=started,
    )


# --- cells -------------------------------------------------------------------

Handler: TypeAlias = Callable[[State, "Event", float], Transition]


def _ignore(state: State, event: Event, now: float) -> Transition:
    return Transition(state)


def _start(state: State, now: float) -> Transition:
    """Start now, or arm the start timer if the last start was under a second ago."""
    last = state.last_start
    if last is not None and last <= now < last + START_INTERVAL:
        pending = attrs.evolve(state, start_pending=True)
        return Transition(pending, (SetTimer(Timer.START, last + START_INTERVAL - now),))
    return Transition(attrs.evolve(state, start_pending=False), (Spawn(),))


def _went_down(state: State, now: float, *actions: Action) -> Transition:
    """./run (and ./finish) are over: restamp, then exit, stay down, or restart."""
    down = attrs.evolve(state, phase=Phase.DOWN, pid=0, stamp=now, paused=False)
    if down.exiting:
        return Transition(down, (*actions, Exit()))
    if down.want is Want.UP and not down.failed:
        started = _start(down, now)
        return Transition(started.state, actions + started.actions)
    return Transition(down, actions)


def _want_up(state: State, event: Event, now: float) -> Transition:
    want = Want.ONCE if _command(event) is Command.ONCE else Want.UP
    state = attrs.evolve(state, want=want, failed=False)
    if state.phase is Phase.DOWN and not state.exiting:
        return _start(state, now)
    return Transition(state)


def _down_while_down(state: State, event: Event, now: float) -> Transition:
    stopped = attrs.evolve(state, want=Want.DOWN, start_pending=False)
    return Transition(stopped, (CancelTimer(Timer.START),))


def _down_while_up(state: State, event: Event, now: float) -> Transition:
    stopping = attrs.evolve(state, want=Want.DOWN, paused=False, term_sent=True)
    return Transition(
        stopping, (SendDownSignal(), Signal(signal.SIGCONT), ArmTimeout(Timer.KILL))
    )


def _want_down(state: State, event: Event, now: float) -> Transition:
    return Transition(attrs.evolve(state, want=Want.DOWN))


def _pause(state: State, event: Event, now: float) -> Transition:
    paused = attrs.evolve(state, paused=True)
    return Transition(paused, (Signal(signal.SIGSTOP),) if state.phase is Phase.RUN else ())


def _continue(state: State, event: Event, now: float) -> Transition:
    going = attrs.evolve(state, paused=False)
    return Transition(going, (Signal(signal.SIGCONT),) if state.phase is Phase.RUN else ())


def _send_signal(state: State, event: Event, now: float) -> Transition:
    command = _command(event)
    if command is Command.TERM:
        state = attrs.evolve(state, term_sent=True)
    return Transition(state, (Signal(SIGNALS[command]),))


def _exit_now(state: State, event: Event, now: float) -> Transition:
    gone = attrs.evolve(state, exiting=True, start_pending=False)
    return Transition(gone, (CancelTimer(Timer.START), Exit()))


def _exit_later(state: State, event: Event, now: float) -> Transition:
    return Transition(attrs.evolve(state, exiting=True))


def _spawned(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, Spawned)
    running = attrs.evolve(
        state, phase=Phase.RUN, pid=event.pid, stamp=now, last_start=now, paused=False,
        term_sent=False, ready=False, ready_stamp=None, spawn_failures=0, start_pending=False,
    )
    return Transition(running)


def _spawn_failed(state: State, event: Event, now: float) -> Transition:
    failures = state.spawn_failures + 1
    delay = min(START_INTERVAL * 2 ** (failures - 1), MAX_SPAWN_BACKOFF)
    retrying = attrs.evolve(state, spawn_failures=failures, last_start=now, start_pending=True)
    return Transition(retrying, (SetTimer(Timer.START, delay),))


def _start_due(state: State, event: Event, now: float) -> Transition:
    if not state.start_pending or state.exiting:
        return Transition(state)
    return Transition(attrs.evolve(state, start_pending=False), (Spawn(),))


def _run_exited(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, RunExited)
    ended = attrs.evolve(
        state, term_sent=False, paused=False, ready=False, last_exit=(event.code, event.signal)
    )
    cancel = CancelTimer(Timer.KILL)
    if event.has_finish:
        code = -1 if event.code is None else event.code
        finishing = attrs.evolve(ended, phase=Phase.FINISH, pid=0)
        return Transition(finishing, (cancel, SpawnFinish(code, event.signal)))
    return _went_down(ended, now, cancel)


def _finish_spawned(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, FinishSpawned)
    return Transition(attrs.evolve(state, pid=event.pid), (ArmTimeout(Timer.FINISH),))


def _finish_exited(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, FinishExited)
    if event.code == PERMANENT_FAILURE:
        state = attrs.evolve(state, failed=True, want=Want.DOWN)
    return _went_down(state, now, CancelTimer(Timer.FINISH))


def _ready(state: State, event: Event, now: float) -> Transition:
    if state.ready:
        return Transition(state)
    return Transition(attrs.evolve(state, ready=True, ready_stamp=now))


def _kill_due(state: State, event: Event, now: float) -> Transition:
    if not state.term_sent:
        return Transition(state)
    return Transition(state, (Signal(signal.SIGKILL), SetTimer(Timer.KILL, KILL_REPEAT)))


def _finish_due(state: State, event: Event, now: float) -> Transition:
    return Transition(state, (Signal(signal.SIGKILL),) if state.pid else ())


def _shutdown(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, Shutdown)
    state = attrs.evolve(state, exiting=True)
    if state.phase is Phase.DOWN:
        return _exit_now(state, event, now)
    if event.force:
        kill = (Signal(signal.SIGKILL),) if state.pid else ()  # no finish pid yet: nothing to kill
        return Transition(attrs.evolve(state, want=Want.DOWN), kill)
    if state.phase is Phase.RUN:
        return _down_while_up(state, event, now)
    return _want_down(state, event, now)


def _command(event: Event) -> Command:
    assert isinstance(event, Control)
    return event.command


# --- the table ---------------------------------------------------------------

Key: TypeAlias = "Command | type[Event]"

_SIGNAL_ONLY: dict[Key, Handler] = {command: _send_signal for command in SIGNALS}

TABLE: dict[Phase, dict[Key, Handler]] = {
    Phase.DOWN: {
        Command.UP: _want_up,
        Command.ONCE: _want_up,
        Command.DOWN: _down_while_down,
        Command.PAUSE: _pause,
        Command.CONTINUE: _continue,
        **{command: _ignore for command in SIGNALS},
        Command.EXIT: _exit_now,
        Spawned: _spawned,
        SpawnFailed: _spawn_failed,
        RunExited: _ignore,
        FinishSpawned: _ignore,
        FinishExited: _ignore,
        Ready: _ignore,
        TimerDue: _start_due,
        Shutdown: _shutdown,
    },
    Phase.RUN: {
        Command.UP: _want_up,
        Command.ONCE: _want_up,
        Command.DOWN: _down_while_up,
        Command.PAUSE: _pause,
        Command.CONTINUE: _continue,
        **_SIGNAL_ONLY,
        Command.EXIT: _exit_later,
        Spawned: _ignore,
        SpawnFailed: _ignore,
        RunExited: _run_exited,
        FinishSpawned: _ignore,
        FinishExited: _ignore,
        Ready: _ready,
        TimerDue: _kill_due,
        Shutdown: _shutdown,
    },
    Phase.FINISH: {
        Command.UP: _want_up,
        Command.ONCE: _want_up,
        Command.DOWN: _want_down,
        Command.PAUSE: _pause,
        Command.CONTINUE: _continue,
        **{command: _ignore for command in SIGNALS},
        Command.EXIT: _exit_later,
        Spawned: _ignore,
        SpawnFailed: _ignore,
        RunExited: _ignore,
        FinishSpawned: _finish_spawned,
        FinishExited: _finish_exited,
        Ready: _ignore,
        TimerDue: _finish_due,
        Shutdown: _shutdown,
    },
}

#: Which timer each phase listens to; a timer firing in another phase is stale.
_TIMER_OF_PHASE = {Phase.DOWN: Timer.START, Phase.RUN: Timer.KILL, Phase.FINISH: Timer.FINISH}


def key(event: Event) -> Key:
    """The column of `event` in `TABLE`: the command for control bytes, else its type."""
    return event.command if isinstance(event, Control) else type(event)


def step(state: State, event: Event, now: float) -> Transition:
    """Apply one input. `now` is the Unix time the driver saw it."""
    if isinstance(event, TimerDue) and event.timer is not _TIMER_OF_PHASE[state.phase]:
        return Transition(state)
    return TABLE[state.phase][key(event)](state, event, now)


# --- what the state looks like on disk ---------------------------------------


def status_of(state: State) -> Status:
    """The status record for `state` (paused shows only while ./run runs, as daemontools)."""
    return Status(
        stamp=Tai64n.from_unix(state.stamp),
        pid=state.pid,
        paused=state.paused and state.phase is Phase.RUN,
        want=state.want,
        term_sent=state.term_sent,
        run_state=RunState(state.phase.value),
    )


def stat_of(state: State) -> bytes:
    """runit's ``supervise/stat`` line for `state`.

    runit shows ``paused`` even while down, where the status byte (daemontools)
    does not, and says ``want exit`` after ``x``.
    """
    return stat_text(status_of(state).replace(paused=state.paused), state.exiting)


def extra_of(state: State, notify: bool) -> Extra:
    """The extra record (readiness, failure, last exit) for `state`."""
    flags = ExtraFlag(0)
    for flag, on in (
        (ExtraFlag.READY, state.ready),
        (ExtraFlag.FAILED, state.failed),
        (ExtraFlag.EXITED, state.last_exit not in (None, UNKNOWN_EXIT)),
        (ExtraFlag.NOTIFY, notify),
        (ExtraFlag.FINISHING, state.phase is Phase.FINISH),
    ):
        if on:
            flags |= flag
    code, signum = state.last_exit or (0, 0)
    ready_stamp = None if state.ready_stamp is None else Tai64n.from_unix(state.ready_stamp)
    return Extra(flags, ready_stamp, 0 if code is None else code, signum)

"""The life cycle of one entry of the daemon (a service, its logger, their pipe), as data.

Pure: no I/O, no trio, no clock. `step(state, input)` returns the new state
and the actions the driver (`supervise.entry`) must carry out, in order.
Every (phase, input) pair has a cell in `TABLE`, as in `supervise.machine`;
a cell where nothing happens says so (`_ignore`).

The rules, as svscan keeps them:

- The logger starts first; the service starts once the logger's first
  attempt to take its directory is over (taken or not): its first lines
  find a reader.
- To stop, the service goes down first. The logger follows when the daemon
  says so (svscan: once every service of the tree is down; an entry stopped
  alone, at once): the entry closes the pipe's write end, the logger reads
  to end of file and exits by itself, and only a logger still running after
  `LOG_GRACE` is told to stop.
- A directory released by ``x``, or refused (its lock held), is taken again
  after `RETAKE_DELAY` unless the entry is stopping, as daemontools' svscan
  restarts a ``supervise`` that exited at its next scan. ``supervise DIR``
  does not (`State.retake` is False): a released directory is done with.
- A forced stop (the second SIGTERM) kills the service and the logger.
- A vanished directory is a stop that says nothing (reaching it fails now).
- An entry handed over by a re-executed daemon starts in `Phase.HANDED_OVER`:
  its services may be running already, and carry on without a restart.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TypeAlias

import attrs

#: Seconds before a released directory is taken again (daemontools' scan interval).
RETAKE_DELAY = 5.0
#: Seconds a logger may take to drain its pipe and exit after its service is down.
LOG_GRACE = 10.0


class Phase(enum.Enum):
    """Where an entry is in its life."""

    NEW = "new"  # made by a scan; nothing started yet
    HANDED_OVER = "handed over"  # received in a handover; its services not yet resumed
    LOG_STARTING = "logger starting"  # the logger takes its directory; the service waits
    RUNNING = "running"  # service (and logger) supervised; a released one is taken again
    STOPPING = "service stopping"  # the service was told to go down; waiting for its release
    LOGS_WAITING = "logger waiting"  # the service is down; the logger runs until told
    DRAINING = "logger draining"  # write end closed: the logger reads to EOF and exits
    RELEASED = "released"  # nothing is held: the entry is over


class Timer(enum.Enum):
    """The driver keeps one pending deadline per timer; setting one replaces it."""

    RETAKE_MAIN = "retake service"
    RETAKE_LOG = "retake logger"
    LOG_GRACE = "log grace"


# --- inputs ------------------------------------------------------------------


@attrs.frozen
class Start:
    """The entry's task began."""


@attrs.frozen
class LogSettled:
    """The logger's first attempt to take its directory is over (taken or not)."""


@attrs.frozen
class ServiceReleased:
    """The service's task ended: the directory is released (``x``, refused, or stopped)."""


@attrs.frozen
class LogReleased:
    """The logger's task ended: its directory is released."""


@attrs.frozen
class Stop:
    """Bring the entry down; `force` (a second SIGTERM) kills what still runs."""

    force: bool = False


@attrs.frozen
class LetLogsStop:
    """The logger may drain and exit once the service is down (svscan: all services are)."""


@attrs.frozen
class Vanish:
    """The directory is gone: stop, logger included, without a word about failing to reach it."""


@attrs.frozen
class TimerDue:
    """A deadline set with `SetTimer` has passed."""

    timer: Timer


Input: TypeAlias = (
    Start | LogSettled | ServiceReleased | LogReleased | Stop | LetLogsStop | Vanish | TimerDue
)

# --- actions -----------------------------------------------------------------


@attrs.frozen
class StartService:
    """Supervise the service in a task; feed `ServiceReleased` when the task ends.

    `handed`: the service received in the handover (already running), else a new one.
    """

    handed: bool = False


@attrs.frozen
class StartLogger:
    """Supervise the logger in a task; feed `LogReleased` when it ends.

    `handed` as for `StartService`; `settle`: also feed `LogSettled` once its
    first attempt to take the directory is over.
    """

    handed: bool = False
    settle: bool = False


@attrs.frozen
class ShutdownService:
    """Tell the service to go down and release its directory (the daemon's SIGTERM)."""

    force: bool = False


@attrs.frozen
class ShutdownLogger:
    """Tell the logger to go down and release its directory."""

    force: bool = False


@attrs.frozen
class CloseWriteEnd:
    """Close the entry's write end of the pipe: once the service's is closed, the logger
    reads end of file."""


@attrs.frozen
class ReleaseLoggerWhenDown:
    """Tell the logger's supervisor to release the directory once the logger exits (``x``)."""


@attrs.frozen
class Mute:
    """Say nothing more about either directory (it is gone)."""


@attrs.frozen
class ServiceDown:
    """Tell the daemon that this entry's service is down and released for good."""


@attrs.frozen
class SetTimer:
    """(Re)arm `timer` to fire `delay` seconds from now."""

    timer: Timer
    delay: float


@attrs.frozen
class CancelTimer:
    """Disarm `timer`."""

    timer: Timer


Action: TypeAlias = (
    StartService | StartLogger | ShutdownService | ShutdownLogger | CloseWriteEnd
    | ReleaseLoggerWhenDown | Mute | ServiceDown | SetTimer | CancelTimer
)

# --- state -------------------------------------------------------------------


@attrs.frozen
class State:
    """Everything the machine knows about one entry.

    `main_held`/`log_held`: that side's task runs (or, while `HANDED_OVER`,
    was handed over and will resume). A side that is not held may be waiting
    to be taken again (its `RETAKE_*` timer).
    """

    phase: Phase = Phase.NEW
    has_log: bool = False
    retake: bool = True
    stopping: bool = False
    logs_may_stop: bool = False
    main_held: bool = False
    log_held: bool = False


@attrs.frozen
class Transition:
    """The result of one step."""

    state: State
    actions: tuple[Action, ...] = ()


def new(has_log: bool, retake: bool = True) -> State:
    """A fresh entry (svscan found it, or ``supervise`` was given it)."""
    return State(has_log=has_log, retake=retake)


def handed_over(has_log: bool, main: bool, log: bool, retake: bool = True) -> State:
    """An entry a previous image handed over: `main`/`log` say which services came with it."""
    return State(
        Phase.HANDED_OVER, has_log=has_log, retake=retake, main_held=main,
        log_held=has_log and log,
    )


def service_down(state: State) -> bool:
    """Whether the entry's service is down for good (what svscan waits for before loggers)."""
    return state.phase in (Phase.LOGS_WAITING, Phase.DRAINING, Phase.RELEASED)


# --- cells -------------------------------------------------------------------

Handler: TypeAlias = Callable[[State, Input], Transition]


def _ignore(state: State, event: Input) -> Transition:
    return Transition(state)


def _then(first: Transition, handler: Handler, event: Input) -> Transition:
    """`first`, followed by `handler` applied to the state it left."""
    second = handler(first.state, event)
    return Transition(second.state, first.actions + second.actions)


def _service_over(state: State, *actions: Action) -> Transition:
    """The service is down for good: the logger drains now, or waits until loggers may."""
    down = attrs.evolve(state, main_held=False)
    told = (*actions, CancelTimer(Timer.RETAKE_MAIN), ServiceDown())
    if not down.has_log:
        return Transition(attrs.evolve(down, phase=Phase.RELEASED), told)
    if not down.logs_may_stop:
        return Transition(attrs.evolve(down, phase=Phase.LOGS_WAITING), told)
    return _drain(down, *told)


def _drain(state: State, *actions: Action) -> Transition:
    """Close the write end; the logger exits at end of file (its shutdown after `LOG_GRACE`)."""
    if not state.log_held:  # no logger (refused, or waiting to be taken again): done
        released = attrs.evolve(state, phase=Phase.RELEASED)
        return Transition(released, (*actions, CancelTimer(Timer.RETAKE_LOG), CloseWriteEnd()))
    draining = attrs.evolve(state, phase=Phase.DRAINING)
    return Transition(draining, (
        *actions, CancelTimer(Timer.RETAKE_LOG), CloseWriteEnd(), ReleaseLoggerWhenDown(),
        SetTimer(Timer.LOG_GRACE, LOG_GRACE),
    ))


def _force(state: State, event: Input) -> tuple[Action, ...]:
    """A forced stop kills the logger too (if one runs)."""
    assert isinstance(event, Stop)
    return (ShutdownLogger(force=True),) if event.force and state.log_held else ()


def _let_logs_stop(state: State, event: Input) -> Transition:
    return Transition(attrs.evolve(state, logs_may_stop=True))


def _vanish(state: State, event: Input) -> Transition:
    """A stop, loggers allowed, said to no one: `Mute` first."""
    stop = TABLE[state.phase][Stop](state, Stop())
    muted = Transition(stop.state, (Mute(), *stop.actions))
    return _then(muted, TABLE[stop.state.phase][LetLogsStop], LetLogsStop())


# NEW and HANDED_OVER: nothing runs yet (a stop before the task began is remembered).


def _start_new(state: State, event: Input) -> Transition:
    if state.stopping:  # stopped before it began: nothing to start, nothing to drain
        return Transition(attrs.evolve(state, phase=Phase.RELEASED), (ServiceDown(),))
    if state.has_log:
        starting = attrs.evolve(state, phase=Phase.LOG_STARTING, log_held=True)
        return Transition(starting, (StartLogger(settle=True),))
    return Transition(
        attrs.evolve(state, phase=Phase.RUNNING, main_held=True), (StartService(),)
    )


def _remember_stop(state: State, event: Input) -> Transition:
    return Transition(attrs.evolve(state, stopping=True))


def _start_handed(state: State, event: Input) -> Transition:
    """Resume what was handed over; a new logger first if it came without both services."""
    if state.stopping:
        return _start_handed_stopping(state)
    if state.has_log and not state.main_held and not state.log_held:
        return _start_new(state, event)
    actions: tuple[Action, ...] = (StartService(handed=state.main_held),)
    if state.has_log:
        actions = (StartLogger(handed=state.log_held), *actions)
    running = attrs.evolve(state, phase=Phase.RUNNING, main_held=True, log_held=state.has_log)
    return Transition(running, actions)


def _start_handed_stopping(state: State) -> Transition:
    """Stopped before it resumed (its shutdowns are sent): resume what was handed, no more."""
    actions: tuple[Action, ...] = ()
    if state.log_held:
        actions += (StartLogger(handed=True),)
    if not state.main_held:
        return _service_over(state, *actions)
    return Transition(
        attrs.evolve(state, phase=Phase.STOPPING), (*actions, StartService(handed=True))
    )


def _stop_handed(state: State, event: Input) -> Transition:
    """The handed services already have their orders; they carry them out once resumed."""
    assert isinstance(event, Stop)
    actions = (ShutdownService(event.force),) if state.main_held else ()
    return Transition(attrs.evolve(state, stopping=True), actions + _force(state, event))


# LOG_STARTING


def _log_settled(state: State, event: Input) -> Transition:
    return Transition(
        attrs.evolve(state, phase=Phase.RUNNING, main_held=True), (StartService(),)
    )


def _log_released_starting(state: State, event: Input) -> Transition:
    """The logger ended before we heard it settle (refused): it did settle; retake it later."""
    return _then(_log_settled(state, LogSettled()), _log_released, event)


def _stop_before_service(state: State, event: Input) -> Transition:
    """Stopped while the logger starts: the service never starts; the logger drains."""
    stopping = attrs.evolve(state, stopping=True)
    return _service_over(stopping, *_force(state, event))


# RUNNING


def _service_released(state: State, event: Input) -> Transition:
    """Released (``x``, refused) while not stopping: take it again later, or it is done."""
    if not state.retake:
        done = attrs.evolve(state, stopping=True, logs_may_stop=True)
        return _service_over(done)
    waiting = attrs.evolve(state, main_held=False)
    return Transition(waiting, (SetTimer(Timer.RETAKE_MAIN, RETAKE_DELAY),))


def _log_released(state: State, event: Input) -> Transition:
    """The logger released its directory before its turn to drain: take it again later."""
    gone = attrs.evolve(state, log_held=False)
    if not state.retake:
        return Transition(gone)
    return Transition(gone, (SetTimer(Timer.RETAKE_LOG, RETAKE_DELAY),))


def _stop_running(state: State, event: Input) -> Transition:
    assert isinstance(event, Stop)
    stopping = attrs.evolve(state, stopping=True)
    if not state.main_held:  # waiting to be taken again: it is down already
        return _service_over(stopping, *_force(state, event))
    actions = (ShutdownService(event.force), *_force(state, event))
    return Transition(attrs.evolve(stopping, phase=Phase.STOPPING), actions)


def _timer_running(state: State, event: Input) -> Transition:
    assert isinstance(event, TimerDue)
    if event.timer is Timer.RETAKE_MAIN and not state.main_held:
        return Transition(attrs.evolve(state, main_held=True), (StartService(),))
    return _retake_log(state, event)


def _retake_log(state: State, event: Input) -> Transition:
    """`RETAKE_LOG` due: take the logger's directory again (until it is the logger's turn)."""
    assert isinstance(event, TimerDue)
    if event.timer is Timer.RETAKE_LOG and state.has_log and not state.log_held:
        return Transition(attrs.evolve(state, log_held=True), (StartLogger(),))
    return Transition(state)


# STOPPING


def _stopped(state: State, event: Input) -> Transition:
    return _service_over(state)


def _force_only(state: State, event: Input) -> Transition:
    """Stopping already: a second stop matters only if forced (kill what still runs)."""
    assert isinstance(event, Stop)
    if not event.force:
        return Transition(state)
    actions = (ShutdownService(True),) if state.main_held else ()
    return Transition(state, actions + _force(state, event))


# LOGS_WAITING


def _drain_now(state: State, event: Input) -> Transition:
    return _drain(attrs.evolve(state, logs_may_stop=True))


# DRAINING


def _log_drained(state: State, event: Input) -> Transition:
    released = attrs.evolve(state, phase=Phase.RELEASED, log_held=False)
    return Transition(released, (CancelTimer(Timer.LOG_GRACE),))


def _grace_over(state: State, event: Input) -> Transition:
    """`LOG_GRACE` passed and the logger still runs: tell it to stop."""
    assert isinstance(event, TimerDue)
    if event.timer is not Timer.LOG_GRACE:
        return Transition(state)
    return Transition(state, (ShutdownLogger(),))


# --- the table ---------------------------------------------------------------

Key: TypeAlias = "type[Input]"

TABLE: dict[Phase, dict[Key, Handler]] = {
    Phase.NEW: {
        Start: _start_new,
        LogSettled: _ignore,
        ServiceReleased: _ignore,
        LogReleased: _ignore,
        Stop: _remember_stop,
        LetLogsStop: _let_logs_stop,
        Vanish: _vanish,
        TimerDue: _ignore,
    },
    Phase.HANDED_OVER: {
        Start: _start_handed,
        LogSettled: _ignore,
        ServiceReleased: _ignore,
        LogReleased: _ignore,
        Stop: _stop_handed,
        LetLogsStop: _let_logs_stop,
        Vanish: _vanish,
        TimerDue: _ignore,
    },
    Phase.LOG_STARTING: {
        Start: _ignore,
        LogSettled: _log_settled,
        ServiceReleased: _ignore,
        LogReleased: _log_released_starting,
        Stop: _stop_before_service,
        LetLogsStop: _let_logs_stop,
        Vanish: _vanish,
        TimerDue: _ignore,
    },
    Phase.RUNNING: {
        Start: _ignore,
        LogSettled: _ignore,
        ServiceReleased: _service_released,
        LogReleased: _log_released,
        Stop: _stop_running,
        LetLogsStop: _let_logs_stop,
        Vanish: _vanish,
        TimerDue: _timer_running,
    },
    Phase.STOPPING: {
        Start: _ignore,
        LogSettled: _ignore,
        ServiceReleased: _stopped,
        LogReleased: _log_released,
        Stop: _force_only,
        LetLogsStop: _let_logs_stop,
        Vanish: _vanish,
        TimerDue: _retake_log,
    },
    Phase.LOGS_WAITING: {
        Start: _ignore,
        LogSettled: _ignore,
        ServiceReleased: _ignore,
        LogReleased: _log_released,
        Stop: _force_only,
        LetLogsStop: _drain_now,
        Vanish: _vanish,
        TimerDue: _retake_log,
    },
    Phase.DRAINING: {
        Start: _ignore,
        LogSettled: _ignore,
        ServiceReleased: _ignore,
        LogReleased: _log_drained,
        Stop: _force_only,
        LetLogsStop: _ignore,
        Vanish: _vanish,
        TimerDue: _grace_over,
    },
    Phase.RELEASED: {
        Start: _ignore,
        LogSettled: _ignore,
        ServiceReleased: _ignore,
        LogReleased: _ignore,
        Stop: _ignore,
        LetLogsStop: _ignore,
        Vanish: _ignore,
        TimerDue: _ignore,
    },
}


def step(state: State, event: Input) -> Transition:
    """Apply one input."""
    return TABLE[state.phase][type(event)](state, event)

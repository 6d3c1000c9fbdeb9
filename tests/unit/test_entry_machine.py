"""The life cycle of a daemon entry (`supervise.entry_machine`), cell by cell.

Every (phase, input) cell of `TABLE` is exercised by at least one case below
(`test_every_cell_has_a_case` checks), with the state it leaves and the
actions it asks for, in order. A few properties over random input sequences
pin the rules no cell may break: nothing new starts once stopping, the
daemon hears "service down" once, the logger's write end is closed only
after the service is down, and a released entry stays released.
"""

from __future__ import annotations

import subprocess
import sys

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervise import entry_machine as em
from supervise.entry_machine import (
    LOG_GRACE,
    RETAKE_DELAY,
    TABLE,
    CancelTimer,
    CloseWriteEnd,
    LetLogsStop,
    LogReleased,
    LogSettled,
    Mute,
    Phase,
    ReleaseLoggerWhenDown,
    ServiceDown,
    ServiceReleased,
    SetTimer,
    ShutdownLogger,
    ShutdownService,
    Start,
    StartLogger,
    StartService,
    State,
    Stop,
    Timer,
    TimerDue,
    Vanish,
)

# --- one state per phase: an entry with a logger, as it usually is there -----------------

NEW = em.new(has_log=True)
NEW_PLAIN = em.new(has_log=False)
HANDED = em.handed_over(has_log=True, main=True, log=True)
LOG_STARTING = State(Phase.LOG_STARTING, has_log=True, log_held=True)
RUNNING = State(Phase.RUNNING, has_log=True, main_held=True, log_held=True)
RUNNING_PLAIN = State(Phase.RUNNING, main_held=True)
STOPPING = State(Phase.STOPPING, has_log=True, stopping=True, main_held=True, log_held=True)
WAITING = State(Phase.LOGS_WAITING, has_log=True, stopping=True, log_held=True)
DRAINING = State(Phase.DRAINING, has_log=True, stopping=True, logs_may_stop=True, log_held=True)
RELEASED = State(Phase.RELEASED, has_log=True, stopping=True, logs_may_stop=True)

#: What going down for good says, before anything about the logger.
DOWN = (CancelTimer(Timer.RETAKE_MAIN), ServiceDown())
#: What starting the logger's drain does.
DRAIN = (CancelTimer(Timer.RETAKE_LOG), CloseWriteEnd(), ReleaseLoggerWhenDown(),
         SetTimer(Timer.LOG_GRACE, LOG_GRACE))
#: Draining with no logger to wait for: the entry is done.
NO_LOGGER = (CancelTimer(Timer.RETAKE_LOG), CloseWriteEnd())

E = attrs.evolve
FORCE = Stop(force=True)
DUE_MAIN, DUE_LOG, DUE_GRACE = (TimerDue(timer) for timer in Timer)

#: (id, state, input, state after, actions). Unchanged state and no action: `_ignore`.
CASES: list[tuple[str, State, em.Input, State, tuple[em.Action, ...]]] = [
    # NEW: nothing started yet
    ("new-start-logger-first", NEW, Start(),
     E(NEW, phase=Phase.LOG_STARTING, log_held=True), (StartLogger(settle=True),)),
    ("new-start-plain", NEW_PLAIN, Start(),
     E(NEW_PLAIN, phase=Phase.RUNNING, main_held=True), (StartService(),)),
    ("new-start-after-stop", E(NEW, stopping=True), Start(),
     E(NEW, stopping=True, phase=Phase.RELEASED), (ServiceDown(),)),
    ("new-settled", NEW, LogSettled(), NEW, ()),
    ("new-service-released", NEW, ServiceReleased(), NEW, ()),
    ("new-log-released", NEW, LogReleased(), NEW, ()),
    ("new-stop-remembered", NEW, Stop(), E(NEW, stopping=True), ()),
    ("new-let-logs-stop", NEW, LetLogsStop(), E(NEW, logs_may_stop=True), ()),
    ("new-vanish", NEW, Vanish(), E(NEW, stopping=True, logs_may_stop=True), (Mute(),)),
    ("new-timer", NEW, DUE_MAIN, NEW, ()),
    # HANDED_OVER: services may run already; resumed, never restarted
    ("handed-start-both", HANDED, Start(), E(HANDED, phase=Phase.RUNNING),
     (StartLogger(handed=True), StartService(handed=True))),
    ("handed-start-new-logger", em.handed_over(True, main=True, log=False), Start(),
     E(HANDED, phase=Phase.RUNNING), (StartLogger(handed=False), StartService(handed=True))),
    ("handed-start-nothing-handed", em.handed_over(True, main=False, log=False), Start(),
     E(NEW, phase=Phase.LOG_STARTING, log_held=True), (StartLogger(settle=True),)),
    ("handed-start-plain", em.handed_over(False, main=True, log=False), Start(),
     E(RUNNING_PLAIN), (StartService(handed=True),)),
    ("handed-start-plain-new", em.handed_over(False, main=False, log=False), Start(),
     E(RUNNING_PLAIN), (StartService(handed=False),)),
    ("handed-start-stopping", E(HANDED, stopping=True), Start(),
     E(STOPPING), (StartLogger(handed=True), StartService(handed=True))),
    ("handed-start-stopping-logger-only",
     E(em.handed_over(True, main=False, log=True), stopping=True, logs_may_stop=True), Start(),
     DRAINING, (StartLogger(handed=True), *DOWN, *DRAIN)),
    ("handed-start-stopping-nothing", E(em.handed_over(False, False, False), stopping=True),
     Start(), State(Phase.RELEASED, stopping=True), DOWN),
    ("handed-settled", HANDED, LogSettled(), HANDED, ()),
    ("handed-service-released", HANDED, ServiceReleased(), HANDED, ()),
    ("handed-log-released", HANDED, LogReleased(), HANDED, ()),
    ("handed-stop", HANDED, Stop(), E(HANDED, stopping=True), (ShutdownService(False),)),
    ("handed-stop-force", HANDED, FORCE, E(HANDED, stopping=True),
     (ShutdownService(True), ShutdownLogger(True))),
    ("handed-let-logs-stop", HANDED, LetLogsStop(), E(HANDED, logs_may_stop=True), ()),
    ("handed-vanish", HANDED, Vanish(), E(HANDED, stopping=True, logs_may_stop=True),
     (Mute(), ShutdownService(False))),
    ("handed-timer", HANDED, DUE_LOG, HANDED, ()),
    # LOG_STARTING: the service waits for the logger to settle
    ("starting-start", LOG_STARTING, Start(), LOG_STARTING, ()),
    ("starting-settled", LOG_STARTING, LogSettled(), RUNNING, (StartService(),)),
    ("starting-service-released", LOG_STARTING, ServiceReleased(), LOG_STARTING, ()),
    ("starting-log-refused", LOG_STARTING, LogReleased(), E(RUNNING, log_held=False),
     (StartService(), SetTimer(Timer.RETAKE_LOG, RETAKE_DELAY))),
    ("starting-stop", LOG_STARTING, Stop(), WAITING, DOWN),
    ("starting-stop-force", LOG_STARTING, FORCE, WAITING, (ShutdownLogger(True), *DOWN)),
    ("starting-stop-logs-may", E(LOG_STARTING, logs_may_stop=True), Stop(), DRAINING,
     (*DOWN, *DRAIN)),
    ("starting-let-logs-stop", LOG_STARTING, LetLogsStop(),
     E(LOG_STARTING, logs_may_stop=True), ()),
    ("starting-vanish", LOG_STARTING, Vanish(), DRAINING, (Mute(), *DOWN, *DRAIN)),
    ("starting-timer", LOG_STARTING, DUE_GRACE, LOG_STARTING, ()),
    # RUNNING
    ("running-start", RUNNING, Start(), RUNNING, ()),
    ("running-settled", RUNNING, LogSettled(), RUNNING, ()),
    ("running-released-retaken-later", RUNNING, ServiceReleased(), E(RUNNING, main_held=False),
     (SetTimer(Timer.RETAKE_MAIN, RETAKE_DELAY),)),
    ("running-released-for-good", E(RUNNING_PLAIN, retake=False), ServiceReleased(),
     State(Phase.RELEASED, retake=False, stopping=True, logs_may_stop=True), DOWN),
    ("running-log-released", RUNNING, LogReleased(), E(RUNNING, log_held=False),
     (SetTimer(Timer.RETAKE_LOG, RETAKE_DELAY),)),
    ("running-log-released-for-good", E(RUNNING, retake=False), LogReleased(),
     E(RUNNING, retake=False, log_held=False), ()),
    ("running-stop", RUNNING, Stop(), E(STOPPING), (ShutdownService(False),)),
    ("running-stop-force", RUNNING, FORCE, E(STOPPING),
     (ShutdownService(True), ShutdownLogger(True))),
    ("running-stop-while-released", E(RUNNING, main_held=False), Stop(), WAITING, DOWN),
    ("running-stop-plain-while-released", E(RUNNING_PLAIN, main_held=False), Stop(),
     State(Phase.RELEASED, stopping=True), DOWN),
    ("running-let-logs-stop", RUNNING, LetLogsStop(), E(RUNNING, logs_may_stop=True), ()),
    ("running-vanish", RUNNING, Vanish(), E(STOPPING, logs_may_stop=True),
     (Mute(), ShutdownService(False))),
    ("running-retake-service", E(RUNNING, main_held=False), DUE_MAIN, RUNNING,
     (StartService(),)),
    ("running-retake-service-held", RUNNING, DUE_MAIN, RUNNING, ()),
    ("running-retake-logger", E(RUNNING, log_held=False), DUE_LOG, RUNNING, (StartLogger(),)),
    ("running-retake-logger-held", RUNNING, DUE_LOG, RUNNING, ()),
    ("running-grace-stale", RUNNING, DUE_GRACE, RUNNING, ()),
    # STOPPING: the service goes down first
    ("stopping-start", STOPPING, Start(), STOPPING, ()),
    ("stopping-settled", STOPPING, LogSettled(), STOPPING, ()),
    ("stopping-down-logger-waits", STOPPING, ServiceReleased(), WAITING, DOWN),
    ("stopping-down-logger-drains", E(STOPPING, logs_may_stop=True), ServiceReleased(),
     DRAINING, (*DOWN, *DRAIN)),
    ("stopping-down-no-logger", E(STOPPING, logs_may_stop=True, log_held=False),
     ServiceReleased(), RELEASED, (*DOWN, *NO_LOGGER)),
    ("stopping-down-plain", State(Phase.STOPPING, stopping=True, main_held=True),
     ServiceReleased(), State(Phase.RELEASED, stopping=True), DOWN),
    ("stopping-log-released", STOPPING, LogReleased(), E(STOPPING, log_held=False),
     (SetTimer(Timer.RETAKE_LOG, RETAKE_DELAY),)),
    ("stopping-stop-again", STOPPING, Stop(), STOPPING, ()),
    ("stopping-stop-force", STOPPING, FORCE, STOPPING,
     (ShutdownService(True), ShutdownLogger(True))),
    ("stopping-let-logs-stop", STOPPING, LetLogsStop(), E(STOPPING, logs_may_stop=True), ()),
    ("stopping-vanish", STOPPING, Vanish(), E(STOPPING, logs_may_stop=True), (Mute(),)),
    ("stopping-retake-logger", E(STOPPING, log_held=False), DUE_LOG, STOPPING,
     (StartLogger(),)),
    ("stopping-retake-service-stale", STOPPING, DUE_MAIN, STOPPING, ()),
    # LOGS_WAITING: the service is down; the logger runs until loggers may stop
    ("waiting-start", WAITING, Start(), WAITING, ()),
    ("waiting-settled", WAITING, LogSettled(), WAITING, ()),
    ("waiting-service-released", WAITING, ServiceReleased(), WAITING, ()),
    ("waiting-log-released", WAITING, LogReleased(), E(WAITING, log_held=False),
     (SetTimer(Timer.RETAKE_LOG, RETAKE_DELAY),)),
    ("waiting-stop", WAITING, Stop(), WAITING, ()),
    ("waiting-stop-force", WAITING, FORCE, WAITING, (ShutdownLogger(True),)),
    ("waiting-drain", WAITING, LetLogsStop(), DRAINING, DRAIN),
    ("waiting-drain-no-logger", E(WAITING, log_held=False), LetLogsStop(), RELEASED, NO_LOGGER),
    ("waiting-vanish", WAITING, Vanish(), DRAINING, (Mute(), *DRAIN)),
    ("waiting-retake-logger", E(WAITING, log_held=False), DUE_LOG, WAITING, (StartLogger(),)),
    ("waiting-grace-stale", WAITING, DUE_GRACE, WAITING, ()),
    # DRAINING: the logger reads to end of file; its shutdown only after LOG_GRACE
    ("draining-start", DRAINING, Start(), DRAINING, ()),
    ("draining-settled", DRAINING, LogSettled(), DRAINING, ()),
    ("draining-service-released", DRAINING, ServiceReleased(), DRAINING, ()),
    ("draining-logger-gone", DRAINING, LogReleased(), RELEASED,
     (CancelTimer(Timer.LOG_GRACE),)),
    ("draining-stop", DRAINING, Stop(), DRAINING, ()),
    ("draining-stop-force", DRAINING, FORCE, DRAINING, (ShutdownLogger(True),)),
    ("draining-let-logs-stop", DRAINING, LetLogsStop(), DRAINING, ()),
    ("draining-vanish", DRAINING, Vanish(), DRAINING, (Mute(),)),
    ("draining-grace-over", DRAINING, DUE_GRACE, DRAINING, (ShutdownLogger(False),)),
    ("draining-retake-stale", DRAINING, DUE_LOG, DRAINING, ()),
    # RELEASED: over; nothing moves it
    *[(f"released-{type(event).__name__}", RELEASED, event, RELEASED, ())
      for event in (Start(), LogSettled(), ServiceReleased(), LogReleased(), Stop(), FORCE,
                    LetLogsStop(), Vanish(), DUE_MAIN, DUE_LOG, DUE_GRACE)],
]


@pytest.mark.parametrize(("state", "event", "after", "actions"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_cell(state: State, event: em.Input, after: State, actions: tuple[em.Action, ...]
              ) -> None:
    transition = em.step(state, event)
    assert (transition.state, transition.actions) == (after, actions)


def test_every_cell_has_a_case() -> None:
    covered = {(state.phase, type(event)) for _, state, event, _, _ in CASES}
    inputs = {key for row in TABLE.values() for key in row}
    assert covered == {(phase, kind) for phase in Phase for kind in inputs}


def test_every_phase_has_every_input() -> None:
    """No cell is missing: each row has the same inputs (`_ignore` where nothing happens)."""
    rows = [set(row) for row in TABLE.values()]
    assert set(TABLE) == set(Phase)
    assert all(row == rows[0] for row in rows)
    assert rows[0] == {Start, LogSettled, ServiceReleased, LogReleased, Stop, LetLogsStop,
                       Vanish, TimerDue}


def test_service_down_phases() -> None:
    down = {phase for phase in Phase if em.service_down(State(phase))}
    assert down == {Phase.LOGS_WAITING, Phase.DRAINING, Phase.RELEASED}


# --- properties over any sequence of inputs ----------------------------------------------

inputs = st.sampled_from([
    LogSettled(), ServiceReleased(), LogReleased(), Stop(), FORCE, LetLogsStop(), Vanish(),
    DUE_MAIN, DUE_LOG, DUE_GRACE,
])
beginnings = st.sampled_from([
    NEW, NEW_PLAIN, E(NEW, retake=False), HANDED, em.handed_over(True, True, False),
    em.handed_over(True, False, True), em.handed_over(False, True, False),
])


def _run(state: State, events: list[em.Input], start_at: int) -> list[tuple[State, em.Action]]:
    """Feed `events`, with `Start` inserted at `start_at`; every action with the state after."""
    events = [*events[:start_at], Start(), *events[start_at:]]
    seen = []
    for event in events:
        transition = em.step(state, event)
        state = transition.state
        seen.extend((state, action) for action in transition.actions)
    return seen


@given(beginnings, st.lists(inputs, max_size=12), st.integers(0, 12))
def test_nothing_new_starts_once_stopping(state: State, events: list[em.Input], at: int
                                          ) -> None:
    for after, action in _run(state, events, at):
        if isinstance(action, StartService) and after.stopping:
            assert action.handed, "a new service started on a stopping entry"


@given(beginnings, st.lists(inputs, max_size=12), st.integers(0, 12))
def test_service_down_is_said_once_and_before_the_write_end_closes(
    state: State, events: list[em.Input], at: int
) -> None:
    actions = [action for _, action in _run(state, events, at)]
    assert actions.count(ServiceDown()) <= 1
    if CloseWriteEnd() in actions:
        assert ServiceDown() in actions[:actions.index(CloseWriteEnd())]


@given(beginnings, st.lists(inputs, max_size=12), st.integers(0, 12))
def test_service_down_is_said_exactly_when_the_service_goes_down(
    state: State, events: list[em.Input], at: int
) -> None:
    """The daemon counts entries whose service is up by this word: it must not miss one."""
    for event in [*events[:at], Start(), *events[at:]]:
        transition = em.step(state, event)
        went_down = em.service_down(transition.state) and not em.service_down(state)
        assert (ServiceDown() in transition.actions) == went_down
        state = transition.state


@given(beginnings, st.lists(inputs, max_size=12), st.integers(0, 12))
def test_released_is_final_and_holds_nothing(state: State, events: list[em.Input], at: int
                                             ) -> None:
    events = [*events[:at], Start(), *events[at:]]
    released = False
    for event in events:
        transition = em.step(state, event)
        if released:
            assert transition == em.Transition(state)
        state = transition.state
        released = state.phase is Phase.RELEASED
        if released:
            assert not state.main_held and not state.log_held


def test_entry_machine_does_not_import_trio() -> None:
    probe = (
        "import sys, supervise.entry_machine; "
        "print(sorted(m for m in sys.modules if m == 'trio' or m.startswith('trio.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"

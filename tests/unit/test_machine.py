"""The supervision state machine: every cell of TABLE, then scenarios, then properties.

Expectations are written from the peers' sources and behaviour (command bytes, status
meaning, supervise's timing, s6 readiness) and machine.py's docstring:
daemontools' meaning where it has one (``x`` does not stop the service, ``o``
writes want byte 0, pure signals only with a pid), runit for ``finish`` and
bytes 18-19, s6 for ``timeout-kill``/``down-signal``/readiness and the finish
exit 125. Not from what the code happens to do.
"""

from __future__ import annotations

import signal
import typing
from typing import Any, NamedTuple

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervise import machine
from supervise.control import SIGNALS, Command
from supervise.machine import (
    KILL_REPEAT,
    MAX_BACKOFF,
    PERMANENT_FAILURE,
    SHUTDOWN_QUIET,
    START_INTERVAL,
    TABLE,
    TREE_POLL,
    Action,
    ArmTimeout,
    CancelTimer,
    CheckTree,
    Control,
    Event,
    Exit,
    FinishExited,
    FinishSpawned,
    GoneForGood,
    Phase,
    Ready,
    RunExited,
    SendDownSignal,
    SetTimer,
    Shutdown,
    Signal,
    SignalTree,
    Spawn,
    Spawned,
    SpawnFailed,
    SpawnFinish,
    State,
    StatusWritten,
    Timer,
    TimerDue,
    TreeCounted,
    WriteStatus,
    extra_of,
    initial,
    key,
    status_of,
    step,
)
from supervise.status import (
    ExtraFlag,
    RunState,
    Status,
    Want,
    pack,
    pack_extra,
    unpack,
    unpack_extra,
)
from supervise.tai import Tai64n

NOW = 1_795_282_400.0
RUN_PID = 4242
FINISH_PID = 4343

# --- representative states, one or more per phase ------------------------------------

#: Stopped with `d` (or a down file) a minute ago; ./run last ended by SIGTERM.
DOWN_WANT_DOWN = State(
    phase=Phase.DOWN, want=Want.DOWN, stamp=NOW - 60, last_start=NOW - 120, last_exit=(None, 15)
)
#: ./run died after 0.5 s; its restart waits for the one-second rule (due at NOW + 0.25).
DOWN_THROTTLED = State(
    phase=Phase.DOWN, want=Want.UP, stamp=NOW - 0.25, last_start=NOW - 0.75,
    start_pending=True, last_exit=(1, 0),
)
#: finish exited 125: permanent failure, down until `u`.
DOWN_FAILED = State(
    phase=Phase.DOWN, want=Want.DOWN, failed=True, stamp=NOW - 60, last_start=NOW - 90,
    last_exit=(1, 0),
)
#: Spawn was just issued (3 spawns failed before; `p` arrived while down).
DOWN_STARTING = State(
    phase=Phase.DOWN, want=Want.UP, paused=True, stamp=NOW - 5, last_start=NOW - 8,
    spawn_failures=3, ready_stamp=NOW - 100, last_exit=(0, 0),
)
#: ./run up for 30 s, wanted up.
RUNNING = State(
    phase=Phase.RUN, want=Want.UP, pid=RUN_PID, stamp=NOW - 30, last_start=NOW - 30,
    last_exit=(0, 0),
)
RUN_PAUSED = attrs.evolve(RUNNING, paused=True)
#: `d` was sent and the service ignores TERM (runit: "run, got TERM, want down").
RUN_STOPPING = attrs.evolve(RUNNING, want=Want.DOWN, term_sent=True)
#: Ready, and `t` was sent: both must be forgotten when it dies.
RUN_READY_TERMED = attrs.evolve(RUNNING, ready=True, ready_stamp=NOW - 29, term_sent=True)
#: ./finish (pid FINISH_PID) runs after ./run exited 2.
FINISHING = State(
    phase=Phase.FINISH, want=Want.UP, pid=FINISH_PID, stamp=NOW - 30, last_start=NOW - 30,
    last_exit=(2, 0),
)
#: SpawnFinish issued, FinishSpawned not yet fed back.
FINISH_UNSPAWNED = attrs.evolve(FINISHING, pid=0)
TREE = "cgroup /sys/fs/cgroup/supervise.1/web.2"
#: ./run (with kill-leftovers) died 10 s ago; its leftovers are being stopped, and the
#: restart waits for them.
DOWN_DRAINING = State(
    phase=Phase.DOWN, want=Want.UP, stamp=NOW - 10, last_start=NOW - 40, last_exit=(0, 0),
    tree=TREE, draining=True, held=True,
)
FINISH_DRAINING = attrs.evolve(FINISHING, tree=TREE, draining=True)


class Cell(NamedTuple):
    """One cell's golden expectation: from `start`, `event` at NOW gives these changes/actions."""

    start: State
    event: Event
    actions: tuple[Action, ...]
    changes: dict[str, Any]
    why: str


def cell(start: State, event: Event, actions: tuple[Action, ...], why: str, **changes: Any) -> Cell:
    return Cell(start, event, actions, changes, why)


_SIGNAL_COMMANDS = [c for c in Command if c in SIGNALS]
_KILL_SETUP = (SendDownSignal(), Signal(signal.SIGCONT), ArmTimeout(Timer.KILL))

CELLS: list[Cell] = [
    # ================================ DOWN ================================
    cell(DOWN_FAILED, Control(Command.UP), (Spawn(),),
         "3.2 u: want up, start if down; clears finish-125 failure", want=Want.UP, failed=False),
    cell(DOWN_WANT_DOWN, Control(Command.ONCE), (Spawn(),),
         "3.2 o (daemontools): want byte 0, start if down", want=Want.ONCE),
    cell(DOWN_THROTTLED, Control(Command.DOWN), (CancelTimer(Timer.START),),
         "3.2 d while down: want down; the pending restart must not happen",
         want=Want.DOWN, start_pending=False),
    cell(DOWN_WANT_DOWN, Control(Command.PAUSE), (),
         "2.1: dt keeps the flag but status shows 0 with pid 0; no pid to SIGSTOP", paused=True),
    cell(attrs.evolve(DOWN_WANT_DOWN, paused=True), Control(Command.CONTINUE), (),
         "3.2 c: paused=0; no pid to SIGCONT", paused=False),
    *[
        cell(DOWN_THROTTLED, Control(command), (),
             "3.2: pure signals only if pid != 0; the pending start is untouched")
        for command in _SIGNAL_COMMANDS
    ],
    cell(DOWN_THROTTLED, Control(Command.EXIT), (CancelTimer(Timer.START), Exit()),
         "3.2 x while down: exit now, no further start", exiting=True, start_pending=False),
    cell(DOWN_STARTING, Spawned(5000), (),
         "2.1/0.9: new pid, restamp, clear got-TERM; dt clears paused on start; "
         "readiness is per start; spawn succeeded so backoff resets",
         phase=Phase.RUN, pid=5000, stamp=NOW, last_start=NOW, paused=False,
         ready_stamp=None, spawn_failures=0, starts=1),
    cell(DOWN_STARTING, SpawnFailed(), (SetTimer(Timer.START, 8.0),),
         "backoff 1,2,4,8,10 s: the 4th failure waits 8 s",
         spawn_failures=4, last_start=NOW, start_pending=True),
    cell(DOWN_WANT_DOWN, RunExited(0, 0, has_finish=True), (),
         "stale: nothing runs, so no finish and no restart"),
    cell(DOWN_WANT_DOWN, FinishSpawned(FINISH_PID), (), "stale: no finish expected"),
    cell(DOWN_THROTTLED, FinishExited(PERMANENT_FAILURE), (),
         "stale: a late 125 must not mark the service failed"),
    cell(DOWN_THROTTLED, Ready(), (), "stale: readiness of a process that is gone"),
    cell(DOWN_WANT_DOWN, StatusWritten(ok=False), (SetTimer(Timer.STATUS, 1.0),),
         "a status write failed (disk full): retried in 1 s, backing off", write_failures=1),
    cell(DOWN_THROTTLED, TimerDue(Timer.START), (Spawn(),),
         "5.2: the throttled start happens when its second is over", start_pending=False),
    cell(DOWN_THROTTLED, TimerDue(Timer.KILL), (), "stale: nothing runs to kill"),
    cell(DOWN_THROTTLED, TimerDue(Timer.FINISH), (), "stale: no finish runs"),
    cell(attrs.evolve(DOWN_WANT_DOWN, write_failures=2), TimerDue(Timer.STATUS),
         (WriteStatus(),), "the failed status write is due again"),
    cell(DOWN_THROTTLED, Shutdown(), (CancelTimer(Timer.START), Exit()),
         "5.5 runsv TERM: like x; nothing runs, so exit now", exiting=True, start_pending=False),
    cell(DOWN_DRAINING, TreeCounted(0),
         (CancelTimer(Timer.KILL), CancelTimer(Timer.TREE), Spawn()),
         "kill-leftovers: the tree is empty, the held restart happens (last start 40 s ago)",
         draining=False, held=False),
    cell(DOWN_DRAINING, TimerDue(Timer.TREE), (CheckTree(),),
         "kill-leftovers: count the drained tree again"),
    # ================================ RUN =================================
    cell(RUN_STOPPING, Control(Command.UP), (),
         "3.2 u while up: want up only; got TERM stays until it exits (2.2 byte 18)",
         want=Want.UP),
    cell(RUNNING, Control(Command.ONCE), (),
         "3.2 o while up: want byte 0, never restarted", want=Want.ONCE),
    cell(RUN_PAUSED, Control(Command.DOWN), _KILL_SETUP,
         "3.2/5.8 d: down-signal then CONT, clear paused, got TERM, arm timeout-kill",
         want=Want.DOWN, paused=False, term_sent=True),
    cell(RUNNING, Control(Command.PAUSE), (Signal(signal.SIGSTOP),),
         "3.2 p: paused=1, SIGSTOP", paused=True),
    cell(RUN_PAUSED, Control(Command.CONTINUE), (Signal(signal.SIGCONT),),
         "3.2 c: paused=0, SIGCONT", paused=False),
    *[
        cell(RUNNING, Control(command), (Signal(SIGNALS[command]),),
             "3.2: pure signal to the pid",
             **({"term_sent": True} if command is Command.TERM else {}))
        for command in _SIGNAL_COMMANDS
    ],
    cell(RUNNING, Control(Command.EXIT), (),
         "3.2/5.6 x (daemontools): does not stop the service; exit once it dies", exiting=True),
    cell(RUNNING, Spawned(5000), (), "stale: already running"),
    cell(RUNNING, SpawnFailed(), (), "stale: already running"),
    cell(RUN_READY_TERMED, RunExited(None, 15), (CancelTimer(Timer.KILL), Spawn()),
         "5.2: want up and last start 30 s ago: restart at once; 2.2: restamp, pid 0, "
         "clear got TERM; readiness ends with the process",
         phase=Phase.DOWN, pid=0, stamp=NOW, term_sent=False, ready=False,
         last_exit=(None, 15)),
    cell(RUNNING, FinishSpawned(FINISH_PID), (), "stale: no finish while run runs"),
    cell(RUNNING, FinishExited(PERMANENT_FAILURE), (), "stale: must not mark failed"),
    cell(RUNNING, Ready(), (), "8: readiness flag and readystamp",
         ready=True, ready_stamp=NOW),
    cell(attrs.evolve(RUNNING, write_failures=3), StatusWritten(), (CancelTimer(Timer.STATUS),),
         "the status is written again: no more retries, the back-off starts over",
         write_failures=0),
    cell(RUN_STOPPING, TimerDue(Timer.KILL), (Signal(signal.SIGKILL), SetTimer(Timer.KILL, 5.0)),
         "1.3 timeout-kill: SIGKILL, then again every 5 s"),
    cell(RUNNING, TimerDue(Timer.START), (), "stale: already running"),
    cell(RUNNING, TimerDue(Timer.FINISH), (), "stale: no finish while run runs"),
    cell(attrs.evolve(RUN_STOPPING, quiet=True, exiting=True), TimerDue(Timer.STATUS),
         (WriteStatus(),), "the shutdown's quiet period is over: still running, say so",
         quiet=False),
    cell(attrs.evolve(RUNNING, tree=TREE), TreeCounted(3), (),
         "a count while ./run runs decides nothing: leftovers are only drained after it"),
    cell(attrs.evolve(RUNNING, tree=TREE), TimerDue(Timer.TREE), (),
         "stale: no tree is drained while ./run runs"),
    cell(RUN_PAUSED, Shutdown(), (*_KILL_SETUP, SetTimer(Timer.STATUS, SHUTDOWN_QUIET)),
         "5.5 runsv TERM: stop the service like d (down-signal + CONT), then exit; "
         "its status waits for the quiet period (most are gone by then: one write)",
         exiting=True, want=Want.DOWN, paused=False, term_sent=True, quiet=True),
    # ================================ FINISH ==============================
    cell(attrs.evolve(FINISHING, want=Want.DOWN), Control(Command.UP), (),
         "3.2 u: want up; it starts after finish", want=Want.UP),
    cell(FINISHING, Control(Command.ONCE), (), "3.2 o: want byte 0", want=Want.ONCE),
    cell(FINISHING, Control(Command.DOWN), (),
         "runit d: want down; only a running ./run is signalled", want=Want.DOWN),
    cell(FINISHING, Control(Command.PAUSE), (),
         "flag only: ./finish is not stopped (s6: nop); cleared when it ends", paused=True),
    cell(attrs.evolve(FINISHING, paused=True), Control(Command.CONTINUE), (),
         "3.2 c: clear the flag; nothing was stopped", paused=False),
    *[
        cell(FINISHING, Control(command), (),
             "3.2 runit: signals only in run state")
        for command in _SIGNAL_COMMANDS
    ],
    cell(FINISHING, Control(Command.EXIT), (),
         "3.2 x: exit once down (after finish)", exiting=True),
    cell(FINISHING, Spawned(5000), (), "stale"),
    cell(FINISHING, SpawnFailed(), (), "stale"),
    cell(FINISHING, RunExited(0, 0, has_finish=True), (), "stale: run already ended"),
    cell(FINISH_UNSPAWNED, FinishSpawned(FINISH_PID), (ArmTimeout(Timer.FINISH),),
         "2.2: status shows finish's pid; 1.3 timeout-finish armed", pid=FINISH_PID),
    cell(FINISHING, FinishExited(0), (CancelTimer(Timer.FINISH), Spawn()),
         "2.2: down after finish: restamp, pid 0; want up, last start 30 s ago: start now",
         phase=Phase.DOWN, pid=0, stamp=NOW),
    cell(FINISHING, Ready(), (), "stale: run already ended"),
    cell(attrs.evolve(FINISHING, write_failures=3), StatusWritten(ok=False),
         (SetTimer(Timer.STATUS, 8.0),), "the 4th failed write in a row waits 8 s",
         write_failures=4),
    cell(FINISHING, TimerDue(Timer.FINISH), (Signal(signal.SIGKILL),),
         "1.3 timeout-finish: SIGKILL the finish"),
    cell(FINISHING, TimerDue(Timer.START), (), "stale: the start comes after finish"),
    cell(FINISHING, TimerDue(Timer.KILL), (), "stale: run already ended"),
    cell(attrs.evolve(FINISHING, quiet=True), TimerDue(Timer.STATUS), (WriteStatus(),),
         "the quiet period is over while finish runs", quiet=False),
    cell(FINISH_DRAINING, TreeCounted(2), (SetTimer(Timer.TREE, TREE_POLL),),
         "kill-leftovers: 2 processes left while finish runs: count again soon"),
    cell(FINISH_DRAINING, TimerDue(Timer.TREE), (CheckTree(),),
         "kill-leftovers: count the drained tree again (finish too, in a cgroup)"),
    cell(FINISHING, Shutdown(), (SetTimer(Timer.STATUS, SHUTDOWN_QUIET),),
         "let finish complete (under timeout-finish), then exit",
         exiting=True, want=Want.DOWN, quiet=True),
]


def _cell_id(c: Cell) -> str:
    column = key(c.event)
    if isinstance(column, Command):
        name = column.name
    elif isinstance(column, Timer):
        name = f"TimerDue.{column.name}"
    else:
        name = column.__name__
    return f"{c.start.phase.name}-{name}"


@pytest.mark.parametrize("c", CELLS, ids=[_cell_id(c) for c in CELLS])
def test_cell(c: Cell) -> None:
    """The cell changes exactly the expected fields and emits exactly the expected actions.

    The cell alone: `step` adds the status write after it (see the tests of
    `WriteStatus` below).
    """
    result = TABLE[c.start.phase][key(c.event)](c.start, c.event, NOW)
    assert result.actions == c.actions, c.why
    assert result.state == attrs.evolve(c.start, **c.changes), c.why


def _event_types() -> set[type]:
    return set(typing.get_args(machine.Event))


def test_table_columns_complete() -> None:
    """Every phase has a cell for every command, every timer and every other event type."""
    columns = set(Command) | set(Timer) | (_event_types() - {Control, TimerDue})
    assert set(TABLE) == set(Phase)
    for phase, row in TABLE.items():
        assert set(row) == columns, phase


def test_every_cell_tested() -> None:
    """CELLS covers each (phase, column) of TABLE exactly once: a new cell needs a test."""
    covered = [(c.start.phase, key(c.event)) for c in CELLS]
    assert len(covered) == len(set(covered))
    assert set(covered) == {(phase, column) for phase, row in TABLE.items() for column in row}


# =============================== scenarios ============================================


def run(state: State, *timed: tuple[float, Event]) -> list[tuple[State, tuple[Action, ...]]]:
    """Feed events at their times; return every (state, actions) in order.

    The actions are what the service does; status writes are left out here and
    checked on their own (`test_write_*`).
    """
    out = []
    for when, event in timed:
        result = step(state, event, when)
        state = result.state
        out.append((state, doings(result.actions)))
    return out


def doings(actions: tuple[Action, ...]) -> tuple[Action, ...]:
    """`actions` without `WriteStatus`."""
    return tuple(action for action in actions if not isinstance(action, WriteStatus))


def last(state: State, *timed: tuple[float, Event]) -> tuple[State, tuple[Action, ...]]:
    return run(state, *timed)[-1]


def up_since(t: float, pid: int = RUN_PID, notify: bool = False, **changes: Any) -> State:
    """The state after a start at `t` (through the real cells, not built by hand)."""
    start = initial(t, down_file=False)
    assert start.actions == (Spawn(), WriteStatus())
    state = step(start.state, Spawned(pid, notify), t).state
    return attrs.evolve(state, **changes)


# --- initial -----------------------------------------------------------------------


def test_initial_without_down_file_starts() -> None:
    """No down file: want up, stamp = supervisor start, start at once."""
    result = initial(NOW, down_file=False)
    assert result == machine.Transition(State(want=Want.UP, stamp=NOW), (Spawn(), WriteStatus()))


def test_initial_with_down_file_stays_down() -> None:
    """A down file at start means want down (1.1), nothing started."""
    result = initial(NOW, down_file=True)
    assert result == machine.Transition(State(want=Want.DOWN, stamp=NOW), (WriteStatus(),))


# --- start throttle ------------------------------------------------------------------


def test_quick_death_restarts_one_second_after_start() -> None:
    """A run that dies 0.3 s after starting is restarted at start + 1 s, via a timer."""
    t = NOW
    state, actions = last(up_since(t), (t + 0.3, RunExited(1)))
    assert state.phase is Phase.DOWN and state.start_pending and state.pid == 0
    assert state.stamp == t + 0.3
    assert actions[0] == CancelTimer(Timer.KILL)
    (timer,) = actions[1:]
    assert isinstance(timer, SetTimer) and timer.timer is Timer.START
    assert timer.delay == pytest.approx(0.7)
    state, actions = last(state, (t + 1.0, TimerDue(Timer.START)))
    assert actions == (Spawn(),) and not state.start_pending


@pytest.mark.parametrize("lived", [1.0, 1.5, 3600.0])
def test_slow_death_restarts_at_once(lived: float) -> None:
    """A run that lived a second or more restarts immediately (daemontools 5.2)."""
    _, actions = last(up_since(NOW), (NOW + lived, RunExited(0)))
    assert actions == (CancelTimer(Timer.KILL), Spawn())


def test_control_byte_during_throttle_handled_at_once() -> None:
    """Unlike daemontools' blocking sleep, bytes during the throttle second act at once."""
    throttled, _ = last(up_since(NOW), (NOW + 0.3, RunExited(1)))
    # p: flag set now (status hides it while down)
    state, actions = last(throttled, (NOW + 0.5, Control(Command.PAUSE)))
    assert state.paused and actions == ()
    # d: the pending start is cancelled now, and the timer firing later does nothing
    state, actions = last(throttled, (NOW + 0.5, Control(Command.DOWN)))
    assert state.want is Want.DOWN and actions == (CancelTimer(Timer.START),)
    assert last(state, (NOW + 1.0, TimerDue(Timer.START)))[1] == ()
    # x: exit now, not after the second
    state, actions = last(throttled, (NOW + 0.5, Control(Command.EXIT)))
    assert actions == (CancelTimer(Timer.START), Exit())


@pytest.mark.parametrize("command", [Command.UP, Command.ONCE])
def test_start_command_during_throttle_keeps_the_second(command: Command) -> None:
    """u or o during the throttle re-arms for what is left of the second, not a second start."""
    throttled, _ = last(up_since(NOW), (NOW + 0.3, RunExited(1)))
    state, actions = last(throttled, (NOW + 0.5, Control(command)))
    (timer,) = actions
    assert isinstance(timer, SetTimer) and timer.timer is Timer.START
    assert timer.delay == pytest.approx(0.5)
    assert state.start_pending
    assert last(state, (NOW + 1.0, TimerDue(Timer.START)))[1] == (Spawn(),)


def test_u_after_d_within_the_second_is_throttled() -> None:
    """svc -d then -u on a service started 0.2 s ago: the new start waits for the second."""
    state, actions = last(
        up_since(NOW), (NOW + 0.1, Control(Command.DOWN)), (NOW + 0.2, RunExited(None, 15)),
        (NOW + 0.4, Control(Command.UP)),
    )
    assert isinstance(actions[0], SetTimer) and actions[0].delay == pytest.approx(0.6)


# --- once ------------------------------------------------------------------------------


def test_once_runs_once_and_is_not_restarted() -> None:
    """o while down: start with want byte 0; when it exits it stays down, want 0 (5.6)."""
    steps = run(
        initial(NOW, down_file=True).state,
        (NOW + 1, Control(Command.ONCE)),
        (NOW + 1, Spawned(1040)),
        (NOW + 5, RunExited(0)),
    )
    (_, a1), (s2, _), (s3, a3) = steps
    assert a1 == (Spawn(),)
    assert pack(status_of(s2))[12:20] == bytes.fromhex("10040000 00 00 00 01")
    assert a3 == (CancelTimer(Timer.KILL), GoneForGood(0))
    assert s3.phase is Phase.DOWN and s3.want is Want.ONCE and not s3.start_pending
    assert pack(status_of(s3))[12:20] == bytes.fromhex("00000000 00 00 00 00")


def test_once_while_up_is_not_restarted() -> None:
    """o on a running service: it is not restarted when it exits."""
    state, actions = last(
        up_since(NOW), (NOW + 5, Control(Command.ONCE)), (NOW + 9, RunExited(0))
    )
    assert actions == (CancelTimer(Timer.KILL), GoneForGood(0)) and state.phase is Phase.DOWN


# --- exit ------------------------------------------------------------------------------


def test_x_while_up_waits_for_the_service() -> None:
    """daemontools x: nothing is signalled; when it dies, exit instead of restart (5.6)."""
    state, actions = last(up_since(NOW), (NOW + 5, Control(Command.EXIT)))
    assert actions == () and state.phase is Phase.RUN and state.pid == RUN_PID
    assert status_of(state).pid == RUN_PID
    state, actions = last(state, (NOW + 9, RunExited(None, 9)))
    assert actions == (CancelTimer(Timer.KILL), Exit())
    assert state.phase is Phase.DOWN and state.want is Want.UP


def test_x_then_k_is_svc_dx_k() -> None:
    """svc -x then svc -k: the kill ends it and supervise exits (obs in 5.6)."""
    state, actions = last(
        up_since(NOW), (NOW + 5, Control(Command.EXIT)), (NOW + 6, Control(Command.KILL))
    )
    assert actions == (Signal(signal.SIGKILL),)
    assert last(state, (NOW + 6, RunExited(None, 9)))[1] == (CancelTimer(Timer.KILL), Exit())


def test_x_is_not_undone_by_u() -> None:
    """daemontools never clears its exit flag: u after x still exits when the service dies."""
    state, actions = last(
        up_since(NOW), (NOW + 5, Control(Command.EXIT)), (NOW + 6, Control(Command.UP)),
        (NOW + 7, RunExited(0)),
    )
    assert actions == (CancelTimer(Timer.KILL), Exit())


def test_dx_stops_then_exits() -> None:
    """svc -dx: TERM+CONT, then exit once it is down."""
    steps = run(
        up_since(NOW), (NOW + 5, Control(Command.DOWN)), (NOW + 5, Control(Command.EXIT)),
        (NOW + 6, RunExited(None, 15)),
    )
    assert [actions for _, actions in steps] == [
        _KILL_SETUP, (), (CancelTimer(Timer.KILL), Exit())
    ]


def test_x_while_up_with_finish_runs_finish_then_exits() -> None:
    """With ./finish, exit comes after finish (s6 LASTUP -> LASTFINISH)."""
    steps = run(
        up_since(NOW), (NOW + 5, Control(Command.EXIT)),
        (NOW + 6, RunExited(0, 0, has_finish=True)), (NOW + 6, FinishSpawned(FINISH_PID)),
        (NOW + 7, FinishExited(0)),
    )
    assert [actions for _, actions in steps] == [
        (), (CancelTimer(Timer.KILL), SpawnFinish(0, 0)), (ArmTimeout(Timer.FINISH),),
        (CancelTimer(Timer.FINISH), Exit()),
    ]


# --- d and the kill timer ---------------------------------------------------------------


def test_d_sends_down_signal_then_cont_and_arms_kill() -> None:
    """d while up: down-signal, CONT (so a stopped process sees it), timeout-kill."""
    state, actions = last(up_since(NOW), (NOW + 5, Control(Command.DOWN)))
    assert actions == (SendDownSignal(), Signal(signal.SIGCONT), ArmTimeout(Timer.KILL))
    assert status_of(state) == Status(
        Tai64n.from_unix(NOW), RUN_PID, False, Want.DOWN, True, RunState.RUN
    )


def test_kill_timer_repeats_every_5_seconds() -> None:
    """After timeout-kill, SIGKILL is sent and repeated every KILL_REPEAT s until it dies."""
    assert KILL_REPEAT == 5.0
    steps = run(
        up_since(NOW), (NOW + 1, Control(Command.DOWN)),
        (NOW + 4, TimerDue(Timer.KILL)), (NOW + 9, TimerDue(Timer.KILL)),
        (NOW + 14, TimerDue(Timer.KILL)), (NOW + 15, RunExited(None, 9)),
        (NOW + 19, TimerDue(Timer.KILL)),
    )
    again = (Signal(signal.SIGKILL), SetTimer(Timer.KILL, KILL_REPEAT))
    assert [actions for _, actions in steps] == [
        _KILL_SETUP, again, again, again, (CancelTimer(Timer.KILL), GoneForGood(128 + 9)), ()
    ]


def test_kill_timer_without_d_is_ignored() -> None:
    """A KILL timer with no stop in progress kills nothing."""
    assert last(up_since(NOW), (NOW + 5, TimerDue(Timer.KILL)))[1] == ()


def test_d_on_paused_service() -> None:
    """5.8: TERM then CONT, paused flag cleared, so a stopped process dies."""
    state, actions = last(
        up_since(NOW), (NOW + 1, Control(Command.PAUSE)), (NOW + 2, Control(Command.DOWN))
    )
    assert actions == _KILL_SETUP and not state.paused and not status_of(state).paused


# --- finish -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exited", "args"),
    [
        (RunExited(0, 0, has_finish=True), SpawnFinish(0, 0)),
        (RunExited(3, 0, has_finish=True), SpawnFinish(3, 0)),
        (RunExited(None, 9, has_finish=True), SpawnFinish(-1, 9)),  # runit: "-1 9"
        (RunExited(None, 15, has_finish=True), SpawnFinish(-1, 15)),
    ],
)
def test_finish_gets_code_and_signal(exited: RunExited, args: SpawnFinish) -> None:
    """./finish gets the exit code (or -1 if killed) and the signal (runit, 1.1)."""
    state, actions = last(up_since(NOW), (NOW + 5, exited))
    assert actions == (CancelTimer(Timer.KILL), args)
    assert state.phase is Phase.FINISH and state.last_exit == (exited.code, exited.signal)


def test_finish_status_bytes() -> None:
    """During finish: state 2, pid of ./finish, stamp of the run's start kept (2.2)."""
    state, _ = last(
        up_since(NOW, pid=18428), (NOW + 5, Control(Command.DOWN)),
        (NOW + 6, RunExited(None, 15, has_finish=True)), (NOW + 6, FinishSpawned(20500)),
    )
    assert status_of(state) == Status(
        Tai64n.from_unix(NOW), 20500, False, Want.DOWN, False, RunState.FINISH
    )
    # once finish is done: state 0, pid 0, restamped
    state, actions = last(state, (NOW + 7, FinishExited(0)))
    assert actions == (CancelTimer(Timer.FINISH), GoneForGood(128 + 15))
    assert status_of(state) == Status(
        Tai64n.from_unix(NOW + 7), 0, False, Want.DOWN, False, RunState.DOWN
    )


def test_finish_125_is_permanent_failure() -> None:
    """finish exit 125: failed, want down, no restart, timer or not, until u (s6)."""
    assert PERMANENT_FAILURE == 125
    state, actions = last(
        up_since(NOW), (NOW + 5, RunExited(1, 0, has_finish=True)),
        (NOW + 5, FinishSpawned(FINISH_PID)), (NOW + 6, FinishExited(125)),
    )
    assert actions == (CancelTimer(Timer.FINISH), GoneForGood(1))
    assert state.failed and state.want is Want.DOWN and state.phase is Phase.DOWN
    assert not state.start_pending
    assert ExtraFlag.FAILED in extra_of(state).flags
    assert pack(status_of(state))[17] == ord("d")
    # nothing restarts it: not a stray start timer, not a later exit event
    assert last(state, (NOW + 10, TimerDue(Timer.START)))[1] == ()
    # p/c/d keep it failed
    kept, _ = last(state, (NOW + 11, Control(Command.DOWN)), (NOW + 12, Control(Command.PAUSE)))
    assert kept.failed
    # u clears the failure and starts
    state, actions = last(kept, (NOW + 20, Control(Command.UP)))
    assert actions == (Spawn(),) and not state.failed and state.want is Want.UP
    assert ExtraFlag.FAILED not in extra_of(state).flags


def test_finish_125_while_exiting_still_exits() -> None:
    """A permanent failure does not keep a supervisor that was told to exit."""
    state, actions = last(
        attrs.evolve(FINISHING, exiting=True), (NOW, FinishExited(125))
    )
    assert actions == (CancelTimer(Timer.FINISH), Exit())


@pytest.mark.parametrize("code", [None, 0, 1, 111, 124, 126])
def test_other_finish_codes_restart(code: int | None) -> None:
    """Only 125 is special: any other finish result restarts a wanted-up service."""
    state, actions = last(FINISHING, (NOW, FinishExited(code)))
    assert actions == (CancelTimer(Timer.FINISH), Spawn()) and not state.failed


def test_restart_after_finish_respects_the_second() -> None:
    """run + finish within a second of the start: the restart still waits for the second."""
    state, actions = last(
        up_since(NOW), (NOW + 0.1, RunExited(0, 0, has_finish=True)),
        (NOW + 0.1, FinishSpawned(FINISH_PID)), (NOW + 0.4, FinishExited(0)),
    )
    assert actions[0] == CancelTimer(Timer.FINISH)
    assert isinstance(actions[1], SetTimer) and actions[1].delay == pytest.approx(0.6)


def test_finish_timeout_kills_finish() -> None:
    """timeout-finish: SIGKILL the finish; its exit then brings the service down."""
    state, actions = last(FINISHING, (NOW, TimerDue(Timer.FINISH)))
    assert actions == (Signal(signal.SIGKILL),) and state.pid == FINISH_PID


# --- readiness ------------------------------------------------------------------------------


def test_readiness() -> None:
    """Ready sets the flag and stamp once; death clears the flag; a new start the stamp."""
    state, _ = last(up_since(NOW, notify=True), (NOW + 1, Ready()))
    extra = extra_of(state)
    assert extra.flags == ExtraFlag.READY | ExtraFlag.NOTIFY  # first run: no EXITED yet
    assert extra.ready_stamp == Tai64n.from_unix(NOW + 1)
    # a second readiness line changes nothing (first one counts, as s6 closes the fd)
    again, actions = last(state, (NOW + 2, Ready()))
    assert again == state and actions == ()
    # death: not ready any more, the stamp of the last readiness stays
    down, _ = last(state, (NOW + 5, RunExited(0)))
    assert not down.ready and down.ready_stamp == NOW + 1
    assert ExtraFlag.READY not in extra_of(down).flags
    # a new start forgets it
    up, _ = last(down, (NOW + 5, Spawned(RUN_PID + 1, notify=True)))
    assert up.ready_stamp is None and extra_of(up).ready_stamp is None


def test_ready_not_shown_in_status() -> None:
    """Readiness lives in the extra record only; the status bytes do not change."""
    state = up_since(NOW)
    ready, _ = last(state, (NOW + 1, Ready()))
    assert pack(status_of(ready)) == pack(status_of(state))


# --- stale timers ----------------------------------------------------------------------------

STALE = [
    (DOWN_THROTTLED, Timer.KILL),
    (DOWN_THROTTLED, Timer.FINISH),
    (RUN_STOPPING, Timer.START),
    (RUN_STOPPING, Timer.FINISH),
    (FINISHING, Timer.START),
    (FINISHING, Timer.KILL),
]


@pytest.mark.parametrize(
    ("state", "timer"), STALE, ids=[f"{s.phase.name}-{t.name}" for s, t in STALE]
)
def test_timer_of_another_phase_is_ignored(state: State, timer: Timer) -> None:
    """A timer that fires after its phase ended (a race with the exit) does nothing."""
    assert step(state, TimerDue(timer), NOW) == machine.Transition(state, ())


def test_start_timer_without_pending_start_is_ignored() -> None:
    """A START timer that outlived its reason (d, o-run ended) starts nothing."""
    assert step(DOWN_WANT_DOWN, TimerDue(Timer.START), NOW).actions == ()
    # ... even when want is up: only a pending start is started
    idle = attrs.evolve(DOWN_THROTTLED, start_pending=False)
    assert step(idle, TimerDue(Timer.START), NOW).actions == ()


# --- shutdown ---------------------------------------------------------------------------------

SHUTDOWN = [
    # (start, force, actions, changes)
    (DOWN_THROTTLED, False, (CancelTimer(Timer.START), Exit()),
     {"exiting": True, "start_pending": False}),
    (DOWN_THROTTLED, True, (CancelTimer(Timer.START), Exit()),
     {"exiting": True, "start_pending": False}),
    (RUN_PAUSED, False, (*_KILL_SETUP, SetTimer(Timer.STATUS, SHUTDOWN_QUIET)),
     {"exiting": True, "want": Want.DOWN, "paused": False, "term_sent": True, "quiet": True}),
    (RUN_PAUSED, True, (Signal(signal.SIGKILL),), {"exiting": True, "want": Want.DOWN}),
    (FINISHING, False, (SetTimer(Timer.STATUS, SHUTDOWN_QUIET),),
     {"exiting": True, "want": Want.DOWN, "quiet": True}),
    (FINISHING, True, (Signal(signal.SIGKILL),), {"exiting": True, "want": Want.DOWN}),
]


@pytest.mark.parametrize(
    ("start", "force", "actions", "changes"), SHUTDOWN,
    ids=[f"{s.phase.name}-{'force' if f else 'gentle'}" for s, f, _, _ in SHUTDOWN],
)
def test_shutdown(
    start: State, force: bool, actions: tuple[Action, ...], changes: dict[str, Any]
) -> None:
    """Shutdown stops gently (down-signal) or, forced, with SIGKILL; exits once down."""
    result = step(start, Shutdown(force=force), NOW)
    assert doings(result.actions) == actions
    assert result.state == attrs.evolve(start, **changes)


@pytest.mark.parametrize("force", [False, True])
def test_shutdown_from_run_exits_after_death(force: bool) -> None:
    """After Shutdown the service is not restarted: its death ends supervision."""
    state, _ = last(up_since(NOW), (NOW + 1, Shutdown(force=force)))
    assert last(state, (NOW + 2, RunExited(None, 9)))[1] == (CancelTimer(Timer.KILL), Exit())


@pytest.mark.parametrize("force", [False, True])
def test_shutdown_from_finish_exits_after_finish(force: bool) -> None:
    """During finish, Shutdown waits for (or kills) finish, then exits; no restart."""
    state, _ = last(FINISHING, (NOW, Shutdown(force=force)))
    assert last(state, (NOW + 1, FinishExited(None)))[1] == (CancelTimer(Timer.FINISH), Exit())


def test_second_shutdown_forces() -> None:
    """Gentle, then forced: the service ignoring TERM gets SIGKILL."""
    steps = run(up_since(NOW), (NOW + 1, Shutdown()), (NOW + 3, Shutdown(force=True)))
    quiet = SetTimer(Timer.STATUS, SHUTDOWN_QUIET)
    assert [actions for _, actions in steps] == [(*_KILL_SETUP, quiet), (Signal(signal.SIGKILL),)]


def test_forced_shutdown_before_finish_spawned_signals_nothing() -> None:
    """No pid yet (finish not spawned): there is nothing to kill, and pid 0 must never be
    signalled (kill(0, ...) would hit the supervisor's own process group)."""
    state, actions = last(FINISH_UNSPAWNED, (NOW, Shutdown(force=True)))
    assert actions == () and state.exiting and state.want is Want.DOWN


def test_finish_timer_before_finish_spawned_signals_nothing() -> None:
    """Same rule for a FINISH timer that fires while there is no finish pid."""
    assert step(FINISH_UNSPAWNED, TimerDue(Timer.FINISH), NOW).actions == ()


# --- process-group signals (daemontools-encore's + and =, the signal-group file) -----

#: What a signal-group file with nothing in it names: every letter that signals, but d.
GROUP_DEFAULTS = frozenset(
    {Command.PAUSE, Command.CONTINUE, *(c for c in Command if c in SIGNALS)}
)
_GROUP_SETUP = (SendDownSignal(True), Signal(signal.SIGCONT, True), ArmTimeout(Timer.KILL))

#: (start, event, actions, changes): the cells that signal, with each way of choosing the target.
GROUP_CELLS: list[tuple[State, Event, tuple[Action, ...], dict[str, Any]]] = [
    *[
        (RUNNING, Control(command, group=True), (Signal(SIGNALS[command], True),),
         {"term_sent": True} if command is Command.TERM else {})
        for command in _SIGNAL_COMMANDS
    ],
    # = beats the file: the main pid alone
    (RUNNING, Control(Command.HUP, group=False, defaults=GROUP_DEFAULTS),
     (Signal(signal.SIGHUP),), {}),
    # no selector: the file decides
    (RUNNING, Control(Command.HUP, defaults=GROUP_DEFAULTS), (Signal(signal.SIGHUP, True),), {}),
    (RUNNING, Control(Command.HUP, defaults=frozenset({Command.TERM})), (Signal(signal.SIGHUP),),
     {}),
    (RUNNING, Control(Command.PAUSE, group=True), (Signal(signal.SIGSTOP, True),),
     {"paused": True}),
    (RUN_PAUSED, Control(Command.CONTINUE, defaults=GROUP_DEFAULTS),
     (Signal(signal.SIGCONT, True),), {"paused": False}),
    # d: to the group after +, or when the file names d; not by an empty file's default
    (RUN_PAUSED, Control(Command.DOWN, group=True), _GROUP_SETUP,
     {"want": Want.DOWN, "paused": False, "term_sent": True, "down_group": True}),
    (RUN_PAUSED, Control(Command.DOWN, defaults=GROUP_DEFAULTS), _KILL_SETUP,
     {"want": Want.DOWN, "paused": False, "term_sent": True}),
    (RUN_PAUSED, Control(Command.DOWN, defaults=frozenset({Command.DOWN})), _GROUP_SETUP,
     {"want": Want.DOWN, "paused": False, "term_sent": True, "down_group": True}),
    (RUN_PAUSED, Control(Command.DOWN, group=False, defaults=frozenset({Command.DOWN})),
     _KILL_SETUP, {"want": Want.DOWN, "paused": False, "term_sent": True}),
    # timeout-kill's KILL follows the d it comes after
    (attrs.evolve(RUN_STOPPING, down_group=True), TimerDue(Timer.KILL),
     (Signal(signal.SIGKILL, True), SetTimer(Timer.KILL, KILL_REPEAT)), {}),
    # a shutdown stops as d does, the file deciding; forced, it kills where d went
    (RUNNING, Shutdown(defaults=frozenset({Command.DOWN})),
     (*_GROUP_SETUP, SetTimer(Timer.STATUS, SHUTDOWN_QUIET)),
     {"exiting": True, "want": Want.DOWN, "term_sent": True, "quiet": True, "down_group": True}),
    (RUNNING, Shutdown(defaults=GROUP_DEFAULTS),
     (*_KILL_SETUP, SetTimer(Timer.STATUS, SHUTDOWN_QUIET)),
     {"exiting": True, "want": Want.DOWN, "term_sent": True, "quiet": True}),
    (attrs.evolve(RUN_STOPPING, down_group=True), Shutdown(force=True),
     (Signal(signal.SIGKILL, True),), {"exiting": True}),
    # ./finish is never a group's: its timeout and a forced shutdown kill its pid alone
    (attrs.evolve(FINISHING, down_group=True), Shutdown(force=True),
     (Signal(signal.SIGKILL),), {"exiting": True, "want": Want.DOWN}),
    (attrs.evolve(FINISHING, down_group=True), TimerDue(Timer.FINISH),
     (Signal(signal.SIGKILL),), {}),
    # nothing runs, or finish runs: + signals nothing, as without it
    *[
        (start, Control(command, group=True), (), {})
        for start in (DOWN_THROTTLED, FINISHING) for command in _SIGNAL_COMMANDS
    ],
    # a new start forgets where the last d went
    (attrs.evolve(DOWN_STARTING, down_group=True), Spawned(5000), (),
     {"phase": Phase.RUN, "pid": 5000, "stamp": NOW, "last_start": NOW, "paused": False,
      "ready_stamp": None, "spawn_failures": 0, "starts": 1, "down_group": False}),
]


@pytest.mark.parametrize(
    ("start", "event", "actions", "changes"), GROUP_CELLS,
    ids=[f"{s.phase.name}-{e!r}" for s, e, _, _ in GROUP_CELLS],
)
def test_group_cell(
    start: State, event: Event, actions: tuple[Action, ...], changes: dict[str, Any]
) -> None:
    """Where a cell's signals go: ``+`` the group, ``=`` the main pid, else the file's set."""
    result = TABLE[start.phase][key(event)](start, event, NOW)
    assert result.actions == actions
    assert result.state == attrs.evolve(start, **changes)


#: (start, event, whether the driver must read ``signal-group`` for it)
READS_GROUP_FILE: list[tuple[State, Control | Shutdown, bool]] = [
    *[(RUNNING, Control(command), True) for command in _SIGNAL_COMMANDS],
    (RUNNING, Control(Command.DOWN), True),
    (RUN_PAUSED, Control(Command.CONTINUE), True),
    (RUNNING, Control(Command.HUP, group=True), False),  # + said where
    (RUNNING, Control(Command.HUP, group=False), False),  # = said where
    (RUNNING, Control(Command.UP), False),  # signals nothing
    (RUNNING, Control(Command.ONCE), False),
    (RUNNING, Control(Command.EXIT), False),
    (RUNNING, Shutdown(), True),
    (RUNNING, Shutdown(force=True), True),
    *[(start, Control(Command.HUP), False) for start in (DOWN_THROTTLED, FINISHING)],
    (FINISHING, Shutdown(), False),  # ./finish is never a group's
]


@pytest.mark.parametrize(("start", "event", "reads"), READS_GROUP_FILE)
def test_reads_signal_group(start: State, event: Control | Shutdown, reads: bool) -> None:
    """The file is read only when a cell could send a signal whose target it decides."""
    assert machine.reads_signal_group(start, event) is reads


def test_plus_d_then_timeout_kill_and_death() -> None:
    """``svc -+ -d`` on a service that ignores TERM: group TERM+CONT, group KILL, then down."""
    steps = run(
        up_since(NOW), (NOW + 1, Control(Command.DOWN, group=True)),
        (NOW + 2, TimerDue(Timer.KILL)), (NOW + 3, RunExited(None, 9)),
    )
    assert [actions for _, actions in steps] == [
        _GROUP_SETUP, (Signal(signal.SIGKILL, True), SetTimer(Timer.KILL, KILL_REPEAT)),
        (CancelTimer(Timer.KILL), GoneForGood(128 + 9)),
    ]



# --- the crash-loop policy -----------------------------------------------------------------

BACKOFF = machine.Policy(backoff_max=8.0)
GIVE_UP = machine.Policy(permafail_deaths=3, permafail_secs=10.0)


#: (the service's setting files, the policy they give); a file named "bad" is unusable.
POLICY_FILES: list[tuple[dict[str, str], machine.Policy]] = [
    ({}, machine.Policy()),
    ({"kill-leftovers": ""}, machine.Policy(kill_leftovers=True)),
    ({"backoff-max": "8000"}, BACKOFF),
    ({"backoff-max": "8000", "backoff-reset": "30000"},
     machine.Policy(backoff_max=8.0, backoff_reset=30.0)),
    ({"backoff-max": "0", "backoff-reset": "bad"}, machine.Policy()),  # off: reset not read
    ({"backoff-max": "bad"}, machine.Policy()),
    ({"permafail-deaths": "3", "permafail-secs": "10"}, GIVE_UP),
    ({"permafail-deaths": "3"}, machine.Policy(permafail_deaths=3)),  # secs: 60, s6's
    ({"permafail-deaths": "0", "permafail-secs": "bad"}, machine.Policy()),
]


@pytest.mark.parametrize(("files", "policy"), POLICY_FILES)
def test_crash_policy(files: dict[str, str], policy: machine.Policy) -> None:
    """What the files give, and which the policy reads: the second of a pair only when the
    first is on (an unusable one read would have been said)."""
    read: list[str] = []

    def setting(name: str, parse: typing.Callable[[str], int], default: int | None
                ) -> int | None:
        read.append(name)
        if name not in files or files[name] == "bad":
            return default
        return parse(files[name])

    assert machine.crash_policy(setting, files.__contains__) == policy
    assert ("backoff-reset" in read) == bool(policy.backoff_max)
    assert ("permafail-secs" in read) == bool(policy.permafail_deaths)


def crash(state: State, at: float, lived: float, policy: machine.Policy,
          code: int = 1) -> tuple[State, tuple[Action, ...]]:
    """Start at `at` (by the real cells), die `lived` seconds later: the state and what the
    death does."""
    state = step(state, Spawned(RUN_PID + int(at - NOW)), at).state
    return last(state, (at + lived, RunExited(code, policy=policy)))


def start_timer(actions: tuple[Action, ...]) -> float:
    """The delay of the one START timer among `actions`."""
    (delay,) = [a.delay for a in actions if isinstance(a, SetTimer) and a.timer is Timer.START]
    return delay


def test_default_policy_is_the_one_second_rule() -> None:
    """No setting file: a run dying after 0.1 s, again and again, restarts a second after
    each start, for ever: the default is unchanged."""
    state, at = initial(NOW, down_file=False).state, NOW
    for _ in range(20):
        state, actions = crash(state, at, 0.1, machine.Policy())
        assert start_timer(actions) == pytest.approx(0.9)
        assert state.backoff_until is None and not state.failed
        at += 1.0
        state = step(state, TimerDue(Timer.START), at).state


def test_backoff_doubles_from_the_death_up_to_its_cap() -> None:
    """backoff-max 8 s: quick deaths in a row wait 1, 2, 4, 8, 8 s from the death; svstat
    is told until when (xstatus BACKOFF and its stamp)."""
    state, at, waits = initial(NOW, down_file=False).state, NOW, []
    for _ in range(5):
        state, actions = crash(state, at, 0.1, BACKOFF)
        died = at + 0.1
        waits.append(round(start_timer(actions), 6))
        assert state.backoff_until == pytest.approx(died + waits[-1])
        extra = extra_of(state)
        assert extra.flags & ExtraFlag.BACKOFF
        assert extra.backoff_until == Tai64n.from_unix(state.backoff_until)
        at = died + waits[-1]
        state, actions = last(state, (at, TimerDue(Timer.START)))
        assert actions == (Spawn(),) and state.backoff_until is None
        assert not extra_of(state).flags & ExtraFlag.BACKOFF
    assert waits == [1, 2, 4, 8, 8]


def test_backoff_resets_after_a_run_that_lived_long_enough() -> None:
    """A run that lived backoff-reset (default: backoff-max) ends the series: restart at
    once; the next quick death waits 1 s again."""
    state = initial(NOW, down_file=False).state
    state, actions = crash(state, NOW, 0.1, BACKOFF)
    state = step(state, TimerDue(Timer.START), NOW + 1.1).state
    state, actions = crash(state, NOW + 1.1, 0.1, BACKOFF)
    assert start_timer(actions) == pytest.approx(2.0)
    state = step(state, TimerDue(Timer.START), NOW + 3.2).state
    state, actions = crash(state, NOW + 3.2, 8.0, BACKOFF)
    assert actions == (CancelTimer(Timer.KILL), Spawn()) and state.quick_deaths == 0
    state, actions = crash(state, NOW + 11.2, 0.1, BACKOFF)
    assert start_timer(actions) == pytest.approx(1.0)
    # a reset time of its own: 30 s
    policy = machine.Policy(backoff_max=8.0, backoff_reset=30.0)
    state = step(state, TimerDue(Timer.START), NOW + 12.3).state
    state, actions = crash(state, NOW + 12.3, 20.0, policy)
    assert start_timer(actions) == pytest.approx(2.0), "20 s is young when reset is 30 s"


def test_u_during_a_backoff_keeps_it_and_d_ends_it() -> None:
    """svc -u while backing off starts nothing early (svc -wu waits through it); svc -d
    cancels the start and ends the series: the next u starts at once."""
    state = initial(NOW, down_file=False).state
    state, _ = crash(state, NOW, 0.1, BACKOFF)
    state = step(state, TimerDue(Timer.START), NOW + 1.1).state
    state, _ = crash(state, NOW + 1.1, 0.1, BACKOFF)  # waits until NOW + 3.2
    kept, actions = last(state, (NOW + 2.0, Control(Command.UP)))
    assert start_timer(actions) == pytest.approx(1.2) and kept.backoff_until == state.backoff_until
    stopped, actions = last(state, (NOW + 2.0, Control(Command.DOWN)))
    assert actions == (CancelTimer(Timer.START),)
    assert stopped.backoff_until is None and stopped.quick_deaths == 0
    assert not extra_of(stopped).flags & ExtraFlag.BACKOFF
    assert last(stopped, (NOW + 2.5, Control(Command.UP)))[1] == (Spawn(),)


def test_backoff_counts_from_the_death_even_with_finish() -> None:
    """./finish runs first; the back-off's deadline is from the death, so a finish longer
    than it is followed by the start at once."""
    state = initial(NOW, down_file=False).state
    state, _ = crash(state, NOW, 0.1, BACKOFF)
    state = step(state, TimerDue(Timer.START), NOW + 1.1).state
    state = step(state, Spawned(RUN_PID), NOW + 1.1).state
    state, actions = last(
        state, (NOW + 1.2, RunExited(1, has_finish=True, policy=BACKOFF)),
        (NOW + 1.2, FinishSpawned(FINISH_PID)), (NOW + 2.2, FinishExited(0)),
    )
    assert start_timer(actions) == pytest.approx(1.0)  # due at death + 2 s
    state, actions = last(
        state, (NOW + 3.2, TimerDue(Timer.START)), (NOW + 3.2, Spawned(RUN_PID)),
        (NOW + 3.3, RunExited(1, has_finish=True, policy=BACKOFF)),
        (NOW + 3.3, FinishSpawned(FINISH_PID)), (NOW + 9.0, FinishExited(0)),
    )
    assert actions == (CancelTimer(Timer.FINISH), Spawn())


def test_clock_set_back_ends_a_backoff() -> None:
    """A wall clock set back before the service went down must not stretch the wait."""
    state = initial(NOW, down_file=False).state
    state = step(state, TimerDue(Timer.START), NOW + 1.1).state
    state, _ = crash(state, NOW + 1.1, 0.1, BACKOFF)
    state, _ = crash(state, NOW + 2.2, 0.1, BACKOFF)  # held until NOW + 4.3
    assert state.start_pending and state.backoff_until == pytest.approx(NOW + 4.3)
    assert doings(step(state, Control(Command.UP), NOW - 3600).actions) == (Spawn(),)


def test_give_up_after_n_deaths_within_t_seconds() -> None:
    """permafail-deaths 3 within permafail-secs 10: the third death is a permanent failure,
    as a finish exit of 125: want down, failed, no timer, told once (GoneForGood)."""
    state = initial(NOW, down_file=False).state
    for n, at in enumerate((NOW, NOW + 3, NOW + 6)):
        state, actions = crash(state, at, 1.5, GIVE_UP, code=2)
        if n < 2:
            assert actions == (CancelTimer(Timer.KILL), Spawn()) and not state.failed
    assert actions == (CancelTimer(Timer.KILL), GoneForGood(2))
    assert state.failed and state.want is Want.DOWN and not state.start_pending
    assert ExtraFlag.FAILED in extra_of(state).flags
    assert last(state, (NOW + 30, TimerDue(Timer.START)))[1] == ()
    # u clears it, and the deaths counted: one more death does not give up again
    state, actions = last(state, (NOW + 60, Control(Command.UP)))
    assert actions == (Spawn(),) and not state.failed and state.deaths == ()
    state, actions = crash(state, NOW + 60, 1.5, GIVE_UP)
    assert actions == (CancelTimer(Timer.KILL), Spawn()) and not state.failed


def test_deaths_further_apart_than_t_do_not_give_up() -> None:
    """Three deaths, but never three within 10 s: restarted every time."""
    state = initial(NOW, down_file=False).state
    for at in (NOW, NOW + 6, NOW + 12, NOW + 18, NOW + 24):
        state, actions = crash(state, at, 5.0, GIVE_UP)
        assert actions == (CancelTimer(Timer.KILL), Spawn()) and not state.failed
        assert len(state.deaths) <= GIVE_UP.permafail_deaths


def test_only_deaths_that_would_be_restarted_count() -> None:
    """A run stopped with d, run once with o, or ended after x is no crash loop."""
    for command in (Command.DOWN, Command.ONCE, Command.EXIT):
        state = initial(NOW, down_file=False).state
        for at in (NOW, NOW + 1, NOW + 2):
            state = step(state, Spawned(RUN_PID), at).state
            state = step(state, Control(command), at + 0.5).state
            state, actions = last(state, (at + 0.9, RunExited(None, 15, policy=GIVE_UP)))
            assert not state.failed and state.deaths == () and state.quick_deaths == 0
            if command is Command.EXIT:
                break
            state = attrs.evolve(state, want=Want.UP)


def test_give_up_with_finish_waits_for_finish() -> None:
    """The failure is decided at the death; ./finish still runs, then down for good."""
    state = initial(NOW, down_file=False).state
    state, _ = crash(state, NOW, 2.0, GIVE_UP)
    state, _ = crash(state, NOW + 2, 2.0, GIVE_UP)
    state = step(state, Spawned(RUN_PID), NOW + 4).state
    state, actions = last(state, (NOW + 6, RunExited(1, has_finish=True, policy=GIVE_UP)))
    assert actions == (CancelTimer(Timer.KILL), SpawnFinish(1, 0))
    assert state.failed and state.want is Want.DOWN and state.phase is Phase.FINISH
    state, actions = last(state, (NOW + 6, FinishSpawned(FINISH_PID)),
                          (NOW + 7, FinishExited(0)))
    assert actions == (CancelTimer(Timer.FINISH), GoneForGood(1))


# --- spawn failures -------------------------------------------------------------------------


def test_spawn_failure_backoff() -> None:
    """Failed spawns retry after 1, 2, 4, 8, 10, 10 s; a success resets the series."""
    assert MAX_BACKOFF == 10.0
    state = initial(NOW, down_file=False).state
    now, delays = NOW, []
    for _ in range(6):
        result = step(state, SpawnFailed(), now)
        (timer,) = result.actions
        assert isinstance(timer, SetTimer) and timer.timer is Timer.START
        delays.append(timer.delay)
        assert result.state.phase is Phase.DOWN and result.state.pid == 0
        now += timer.delay
        result = step(result.state, TimerDue(Timer.START), now)
        assert result.actions == (Spawn(),)
        state = result.state
    assert delays == [1, 2, 4, 8, 10, 10]
    # it starts at last; a later failure begins the series again
    state = step(state, Spawned(RUN_PID), now).state
    assert state.spawn_failures == 0
    state = step(state, RunExited(0), now + 100).state
    assert step(state, SpawnFailed(), now + 100).actions == (SetTimer(Timer.START, 1.0),)


def test_d_during_backoff_cancels_retry() -> None:
    """A d while waiting to retry a failed spawn stops the retry."""
    state = step(initial(NOW, down_file=False).state, SpawnFailed(), NOW).state
    state, actions = last(state, (NOW + 0.5, Control(Command.DOWN)))
    assert actions == (CancelTimer(Timer.START),)
    assert last(state, (NOW + 1, TimerDue(Timer.START)))[1] == ()


# --- status_of / extra_of -----------------------------------------------------------------------

DT_UP_UNIX = 1795282347.925283  # label 400000006b01d5b5 3726b4ac


def test_status_of_golden_run() -> None:
    """A running service packs to daemontools' 'up (pid 383)' bytes + runit's 00 01."""
    state = up_since(DT_UP_UNIX, pid=383)
    assert pack(status_of(state)) == bytes.fromhex(
        "400000006b01d5b5 3726b4ac 7f010000 00 75 00 01".replace(" ", "")
    )


@pytest.mark.parametrize(
    ("state", "paused_byte"),
    [
        (RUN_PAUSED, 1),
        (RUNNING, 0),
        (attrs.evolve(DOWN_WANT_DOWN, paused=True), 0),  # dt: "paused byte stays 0"
        (attrs.evolve(FINISHING, paused=True), 0),
    ],
    ids=["run-paused", "run", "down-paused", "finish-paused"],
)
def test_paused_shown_only_while_run(state: State, paused_byte: int) -> None:
    """Byte 16 is 1 only while ./run runs and a p is in effect (2.1)."""
    assert pack(status_of(state))[16] == paused_byte


@pytest.mark.parametrize(
    ("want", "byte"), [(Want.UP, ord("u")), (Want.DOWN, ord("d")), (Want.ONCE, 0)]
)
def test_want_byte(want: Want, byte: int) -> None:
    """Byte 17: 'u', 'd', or 0 after o."""
    assert pack(status_of(attrs.evolve(RUNNING, want=want)))[17] == byte


def test_want_byte_zero_after_o() -> None:
    """o through the machine, not set by hand: byte 17 is 0."""
    state, _ = last(RUNNING, (NOW, Control(Command.ONCE)))
    assert pack(status_of(state))[17] == 0


@pytest.mark.parametrize(
    ("state", "byte"), [(DOWN_WANT_DOWN, 0), (RUNNING, 1), (FINISHING, 2)]
)
def test_run_state_byte(state: State, byte: int) -> None:
    """Byte 19: 0 down, 1 run, 2 finish (runit)."""
    data = pack(status_of(state))
    assert len(data) == 20 and data[19] == byte


def test_term_byte() -> None:
    """Byte 18: 1 after d while ./run has not exited; 0 again once it is down."""
    assert pack(status_of(RUN_STOPPING))[18] == 1
    down, _ = last(RUN_STOPPING, (NOW, RunExited(None, 15)))
    assert pack(status_of(down))[18] == 0


def test_status_stamp_and_pid() -> None:
    """Bytes 0-11 are the state's stamp as daemontools labels it; 12-15 the pid."""
    status = status_of(RUNNING)
    assert status.stamp == Tai64n.from_unix(NOW - 30)
    assert status.pid == RUN_PID


@pytest.mark.parametrize(
    ("state", "notify", "flags", "code", "signum"),
    [
        (State(), False, ExtraFlag(0), 0, 0),
        (attrs.evolve(RUNNING, ready=True, ready_stamp=NOW), True,
         ExtraFlag.READY | ExtraFlag.NOTIFY | ExtraFlag.EXITED, 0, 0),
        (DOWN_FAILED, False, ExtraFlag.FAILED | ExtraFlag.EXITED, 1, 0),
        (DOWN_WANT_DOWN, False, ExtraFlag.EXITED, 0, 15),  # killed: code 0, signal 15
        (FINISHING, False, ExtraFlag.FINISHING | ExtraFlag.EXITED, 2, 0),
    ],
)
def test_extra_of(
    state: State, notify: bool, flags: ExtraFlag, code: int, signum: int
) -> None:
    """The extra record carries readiness, failure, finishing and how run last ended."""
    extra = extra_of(attrs.evolve(state, notify=notify))
    assert (extra.flags, extra.exit_code, extra.exit_signal) == (flags, code, signum)
    assert unpack_extra(pack_extra(extra, status_of(state))) == extra


# =============================== properties ===========================================

pids = st.integers(1, 2**22)
codes = st.none() | st.integers(0, 255) | st.just(PERMANENT_FAILURE)

#: Crash-loop settings as the driver reads them: mostly none, some on, some odd.
policies: st.SearchStrategy[machine.Policy] = st.sampled_from(
    [machine.Policy(), BACKOFF, GIVE_UP,
     machine.Policy(backoff_max=0.5, backoff_reset=0.2, permafail_deaths=1, permafail_secs=0)]
) | st.builds(
    machine.Policy, st.sampled_from([0.0, 0.3, 1.0, 4.0, 3600.0]),
    st.none() | st.floats(0, 100), st.integers(0, 5), st.floats(0, 100), st.booleans(),
)

events: st.SearchStrategy[Event] = st.one_of(
    st.builds(Control, st.sampled_from(Command)),
    st.builds(Spawned, pids, st.booleans(), st.sampled_from(["", TREE])),
    st.just(SpawnFailed()),
    st.builds(RunExited, codes, st.integers(0, 64), st.booleans(), policy=policies),
    st.builds(FinishSpawned, pids),
    st.builds(FinishExited, codes),
    st.just(Ready()),
    st.builds(TimerDue, st.sampled_from(Timer)),
    st.builds(Shutdown, st.booleans()),
    st.builds(TreeCounted, st.integers(0, 3)),
)
starts = st.sampled_from(
    [initial(NOW, down_file=False).state, initial(NOW, down_file=True).state, RUNNING, FINISHING,
     FINISH_UNSPAWNED, DOWN_THROTTLED, DOWN_FAILED, DOWN_DRAINING, FINISH_DRAINING]
)


def check_state(state: State, finish_spawned: bool) -> None:
    """Invariants that hold after any step, whatever came before."""
    if state.phase is Phase.DOWN:
        assert state.pid == 0
    elif state.phase is Phase.RUN:
        assert state.pid != 0
    else:
        assert state.pid != 0 or not finish_spawned
    status = status_of(state)
    assert status.run_state is not None and status.run_state.value == state.phase.value
    if status.paused:
        assert state.phase is Phase.RUN and status.pid != 0
    assert not state.term_sent or state.phase is Phase.RUN
    assert not state.ready or state.phase is Phase.RUN
    assert not state.start_pending or state.phase is Phase.DOWN
    # a start is held only by a drain, and only while down; nothing is drained while up
    assert not state.held or (state.draining and state.phase is Phase.DOWN)
    assert not state.draining or state.phase is not Phase.RUN
    assert not state.failed or state.want is Want.DOWN
    assert unpack(pack(status)) == status
    extra = extra_of(attrs.evolve(state, notify=True))
    assert unpack_extra(pack_extra(extra, status_of(state))) == extra
    # a back-off is between a death and the next start, and shown only while it holds one
    assert state.backoff_until is None or state.phase is not Phase.RUN
    assert bool(extra.flags & ExtraFlag.BACKOFF) == (
        state.phase is Phase.DOWN and state.start_pending and state.backoff_until is not None
    )


def check_actions(before: State, after: State, actions: tuple[Action, ...]) -> None:
    """Invariants linking one step's actions to its states."""
    for action in actions:
        if isinstance(action, (Signal, SendDownSignal)):
            assert before.pid != 0, f"{action} with no pid"
        if isinstance(action, Exit):
            assert after.phase is Phase.DOWN and after.exiting
        if isinstance(action, Spawn):
            assert after.phase is Phase.DOWN and not after.exiting and not after.start_pending
            assert after.backoff_until is None
        if isinstance(action, SpawnFinish):
            assert after.phase is Phase.FINISH and after.pid == 0
    assert sum(isinstance(action, Spawn) for action in actions) <= 1


@settings(max_examples=300, deadline=None)
@given(starts, st.lists(st.tuples(st.floats(0, 20), events), max_size=60))
def test_random_events_never_crash(start: State, timed: list[tuple[float, Event]]) -> None:
    """Any event, in any phase, in any order: step returns and the invariants hold."""
    state, now = start, NOW
    finish_spawned = start.phase is Phase.FINISH and start.pid != 0
    check_state(state, finish_spawned)
    for delta, event in timed:
        now += delta
        result = step(state, event, now)
        assert isinstance(result.state, State) and isinstance(result.actions, tuple)
        if result.state.phase is Phase.FINISH:
            finish_spawned = (state.phase is Phase.FINISH and finish_spawned) or isinstance(
                event, FinishSpawned
            )
        check_actions(state, result.state, result.actions)
        state = result.state
        check_state(state, finish_spawned)


@attrs.define
class Driver:
    """A faithful model of the daemon driving the machine, to check liveness.

    It feeds Spawned/SpawnFailed and FinishSpawned/FinishExited straight after
    Spawn/SpawnFinish, keeps one deadline per timer, and fires a timer only when
    due, as the real driver will.
    """

    data: st.DataObject
    state: State
    now: float = NOW
    timers: dict[Timer, float] = attrs.Factory(dict)
    alive: str | None = None  # "run" or "finish"
    live_pid: int = 0
    next_pid: int = 100
    spawn_times: list[float] = attrs.Factory(list)
    exited: bool = False
    leftovers: int = 0  # processes ./run left behind, in its tree

    def feed(self, event: Event) -> None:
        """One input and what it leads to; the status written once at the end, as
        `Service._apply` does (the write may fail: the disk is full)."""
        pending: list[Event] = [event]
        write = False
        while pending:
            before = self.state
            result = step(before, pending.pop(0), self.now)
            check_actions(before, result.state, result.actions)
            self.state = result.state
            for action in result.actions:
                pending.extend(self.carry_out(before, action))
            write = write or WriteStatus() in result.actions
            if write and not pending:
                write = False
                pending.append(StatusWritten(ok=self.data.draw(st.booleans(), "written")))
        self.check()

    def carry_out(self, before: State, action: Action) -> list[Event]:
        draw = self.data.draw
        if isinstance(action, Spawn):
            assert self.alive is None
            self.spawn_times.append(self.now)
            if draw(st.booleans(), "spawn ok"):
                self.next_pid += 1
                self.alive, self.live_pid = "run", self.next_pid
                return [Spawned(self.next_pid, tree=draw(st.sampled_from(["", TREE]), "tree"))]
            return [SpawnFailed()]
        if isinstance(action, SpawnFinish):
            assert self.alive is None
            if draw(st.booleans(), "finish starts"):
                self.next_pid += 1
                self.alive, self.live_pid = "finish", self.next_pid
                return [FinishSpawned(self.next_pid)]
            return [FinishExited(None)]
        if isinstance(action, (Signal, SendDownSignal)):
            assert self.alive is not None and before.pid == self.live_pid
        elif isinstance(action, SetTimer):
            self.timers[action.timer] = self.now + action.delay
        elif isinstance(action, ArmTimeout):
            if draw(st.booleans(), f"{action.timer.name} configured"):
                self.timers[action.timer] = self.now + draw(st.floats(0.1, 10), "timeout")
            else:
                self.timers.pop(action.timer, None)
        elif isinstance(action, CancelTimer):
            self.timers.pop(action.timer, None)
        elif isinstance(action, SignalTree):
            if action.signum == signal.SIGKILL or draw(st.booleans(), "leftovers obey"):
                self.leftovers = 0
        elif isinstance(action, CheckTree):
            return [TreeCounted(self.leftovers)]
        elif isinstance(action, Exit):
            assert self.alive is None
            self.exited = True
        return []

    def check(self) -> None:
        state = self.state
        check_state(state, finish_spawned=True)
        # the machine's pid is the live process's, and nothing runs while down
        if state.phase is Phase.DOWN:
            assert self.alive is None
        else:
            assert self.alive == state.phase.name.lower() and state.pid == self.live_pid
        # never stuck: down, wanted up and allowed to run => a start is scheduled
        if state.phase is Phase.DOWN and not state.exiting:
            if state.want is Want.UP and not state.failed and state.held:
                assert state.draining and Timer.TREE in self.timers  # counted again soon
            elif state.want is Want.UP and not state.failed:
                assert state.start_pending and Timer.START in self.timers
            if state.want is Want.DOWN:
                assert not state.start_pending
        # exiting and down => Exit was emitted
        if state.phase is Phase.DOWN and state.exiting:
            assert self.exited
        # a failed status write is always retried
        if state.write_failures:
            assert Timer.STATUS in self.timers
        # at most one start (attempt) a second
        for a, b in zip(self.spawn_times, self.spawn_times[1:], strict=False):
            assert b - a >= START_INTERVAL - 1e-6

    def dies(self, code: int | None, signum: int) -> None:
        self.alive, self.live_pid = None, 0
        if self.state.phase is Phase.RUN:
            self.leftovers = self.data.draw(st.integers(0, 2), "leftovers")
            self.feed(RunExited(code, signum, self.data.draw(st.booleans(), "has finish"),
                                policy=self.data.draw(policies, "policy")))
        else:
            self.feed(FinishExited(code))


@settings(max_examples=200, deadline=None)
@given(st.data(), st.booleans())
def test_driven_machine_stays_live(data: st.DataObject, down_file: bool) -> None:
    """Driven like the daemon drives it: no stuck state, no stray signal, <= 1 start/s."""
    start = initial(NOW, down_file)
    driver = Driver(data, start.state)
    for action in start.actions:
        for event in driver.carry_out(start.state, action):
            driver.feed(event)
    driver.check()
    for _ in range(data.draw(st.integers(0, 40), "steps")):
        if driver.exited:
            break
        # weighted so that runs reach finish, failures and throttling before shutdown
        choices = ["control", "control", "control", "shutdown"]
        if driver.alive:
            choices += ["dies", "dies", "ready"]
        if driver.timers:
            choices += ["timer", "timer"]
        choice = data.draw(st.sampled_from(choices), "input")
        if choice == "timer":
            timer = data.draw(st.sampled_from(sorted(driver.timers, key=lambda t: t.value)))
            driver.now = max(driver.now, driver.timers.pop(timer))
            driver.feed(TimerDue(timer))
            continue
        driver.now += data.draw(st.floats(0, 3), "elapsed")
        if choice == "control":
            driver.feed(Control(data.draw(st.sampled_from(Command), "command")))
        elif choice == "shutdown":
            driver.feed(Shutdown(data.draw(st.booleans(), "force")))
        elif choice == "ready":
            if driver.alive == "run":
                driver.feed(Ready())
        else:
            code = data.draw(st.sampled_from([None, 0, 1, PERMANENT_FAILURE]) | codes, "code")
            driver.dies(code, 0 if code is not None else data.draw(st.integers(1, 64)))


@pytest.mark.parametrize(
    ("state", "line"),
    [
        (State(), b"down\n"),
        (State(paused=True), b"down, paused\n"),  # runsv shows it; status byte 16 stays 0
        (State(phase=Phase.RUN, pid=7, paused=True), b"run, paused\n"),
        (State(phase=Phase.RUN, pid=7, want=Want.DOWN, term_sent=True),
         b"run, got TERM, want down\n"),
        (State(phase=Phase.RUN, pid=7, exiting=True, term_sent=True),
         b"run, got TERM, want exit\n"),
        (State(phase=Phase.FINISH, pid=8, want=Want.DOWN), b"finish, want down\n"),
    ],
)
def test_stat_of_is_runits_line(state: State, line: bytes) -> None:
    """runit's stat text, as runsv writes it, including paused while down."""
    assert machine.stat_of(state) == line
    assert status_of(state).paused is (state.paused and state.phase is Phase.RUN)


def test_ready_at_the_epoch_is_still_ready() -> None:
    """A ready stamp of Unix time 0 is a stamp, not "never ready"."""
    state = State(phase=Phase.RUN, pid=7, ready=True, ready_stamp=0.0)
    extra = extra_of(attrs.evolve(state, notify=True))
    assert extra.ready_stamp == Tai64n.from_unix(0.0)
    assert unpack_extra(pack_extra(extra, status_of(state))) == extra


# =============================== rules around the cells ================================


def test_write_after_a_step_that_changes_the_status() -> None:
    """A step that changes what the files show ends with one WriteStatus."""
    result = step(RUNNING, Control(Command.PAUSE), NOW)
    assert result.actions == (Signal(signal.SIGSTOP), WriteStatus())


def test_no_write_when_nothing_shown_changed() -> None:
    """A pure signal, a stale input, a timer re-arm: nothing to write."""
    assert step(RUNNING, Control(Command.HUP), NOW).actions == (Signal(signal.SIGHUP),)
    assert step(RUNNING, Spawned(5000), NOW).actions == ()
    kill = step(RUN_STOPPING, TimerDue(Timer.KILL), NOW).actions
    assert kill == (Signal(signal.SIGKILL), SetTimer(Timer.KILL, KILL_REPEAT))


def test_write_outcome_is_not_itself_written() -> None:
    """StatusWritten changes no shown field: feeding it back cannot loop."""
    failed = step(RUNNING, StatusWritten(ok=False), NOW)
    assert failed.actions == (SetTimer(Timer.STATUS, 1.0),)
    assert step(failed.state, StatusWritten(), NOW).actions == (CancelTimer(Timer.STATUS),)


def test_quiet_period_holds_writes_while_run_runs() -> None:
    """A gentle shutdown of a running service writes nothing until the service is gone or
    the quiet period is over; then one write says where it is."""
    state, actions = last(up_since(NOW), (NOW + 1, Shutdown()))
    assert state.quiet and SetTimer(Timer.STATUS, SHUTDOWN_QUIET) in actions
    held = step(up_since(NOW), Shutdown(), NOW + 1)
    assert WriteStatus() not in held.actions
    gone = step(held.state, RunExited(None, 15), NOW + 1.1)
    assert gone.actions == (CancelTimer(Timer.KILL), Exit(), WriteStatus())
    lingering = step(held.state, TimerDue(Timer.STATUS), NOW + 1 + SHUTDOWN_QUIET)
    assert lingering.actions == (WriteStatus(),) and not lingering.state.quiet


def test_a_write_that_works_again_keeps_the_quiet_periods_timer() -> None:
    """Writes failed, then a shutdown's quiet period began (its timer replaced the retry),
    then a write worked (./run ended, finish started): the timer must stay, or what the
    quiet period holds back (a ``u`` while finish runs) would never be written."""
    state = attrs.evolve(FINISHING, quiet=True, exiting=True, want=Want.DOWN, write_failures=2)
    written = step(state, StatusWritten(), NOW)
    assert written.actions == () and written.state.write_failures == 0
    held = step(written.state, Control(Command.UP), NOW)
    assert WriteStatus() not in held.actions  # still held: the timer writes it
    assert step(held.state, TimerDue(Timer.STATUS), NOW + 0.25).actions == (WriteStatus(),)


def test_failed_writes_back_off_to_ten_seconds() -> None:
    """1, 2, 4, 8, 10, 10 s between retries of a status write that keeps failing."""
    state, delays = RUNNING, []
    for _ in range(6):
        result = step(state, StatusWritten(ok=False), NOW)
        (timer,) = result.actions
        assert isinstance(timer, SetTimer) and timer.timer is Timer.STATUS
        delays.append(timer.delay)
        state = result.state
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert step(state, TimerDue(Timer.STATUS), NOW).actions == (WriteStatus(),)


@pytest.mark.parametrize(("failures", "delay"), [(0, 1.0), (1, 1.0), (2, 2.0), (4, 8.0), (9, 10.0)])
def test_backoff(failures: int, delay: float) -> None:
    assert machine.backoff(failures) == delay


def test_readiness_of_an_earlier_start_is_ignored() -> None:
    """./run exits and restarts at once; the old start's readiness, read late, is stale."""
    first = up_since(NOW - 10)
    assert first.starts == 1
    state, _ = last(first, (NOW, RunExited(1, run=1)), (NOW, Spawned(RUN_PID + 1)))
    assert state.starts == 2 and state.phase is Phase.RUN
    stale, actions = last(state, (NOW + 0.1, Ready(run=1)))
    assert stale == state and actions == ()
    fresh, _ = last(state, (NOW + 0.2, Ready(run=2)))
    assert fresh.ready and fresh.ready_stamp == NOW + 0.2


def test_exit_of_an_earlier_start_is_ignored() -> None:
    """An exit told late (an adopted ./run's pidfd) must not end the current start."""
    state = up_since(NOW, starts=3)
    assert last(state, (NOW + 1, RunExited(None, 9, run=2))) == (state, ())
    down, actions = last(state, (NOW + 1, RunExited(None, 9, run=3)))
    assert down.phase is Phase.DOWN and Spawn() in actions


@pytest.mark.parametrize(
    ("exited", "code"), [((0, 0), 0), ((3, 0), 3), ((None, 15), 143), (machine.UNKNOWN_EXIT, 128)]
)
def test_gone_for_good_says_how_it_ended(exited: tuple[int | None, int], code: int) -> None:
    """Want down and down: GoneForGood with the exit code, or 128 + signal (essential's code)."""
    state = attrs.evolve(RUNNING, want=Want.DOWN)
    _, actions = last(state, (NOW, RunExited(*exited)))
    assert actions == (CancelTimer(Timer.KILL), GoneForGood(code))


def test_no_gone_for_good_when_restarting_or_exiting() -> None:
    """A restart (now or throttled) or an exit (x, shutdown) is not "down for good"."""
    for start in (RUNNING, attrs.evolve(RUNNING, stamp=NOW, last_start=NOW)):
        _, actions = last(start, (NOW + 0.1, RunExited(1)))
        assert not any(isinstance(action, GoneForGood) for action in actions)
    _, actions = last(attrs.evolve(RUNNING, exiting=True), (NOW, RunExited(0)))
    assert actions == (CancelTimer(Timer.KILL), Exit())


@pytest.mark.parametrize(
    ("record", "adoptable"),
    [
        (Status(Tai64n.from_unix(NOW), 0), False),
        (Status(Tai64n.from_unix(NOW), 42, run_state=RunState.RUN), True),
        (Status(Tai64n.from_unix(NOW), 42, run_state=None), True),  # daemontools' 18 bytes
        (Status(Tai64n.from_unix(NOW), 42, run_state=RunState.FINISH), False),
    ],
)
def test_may_adopt(record: Status, adoptable: bool) -> None:
    """Only a ./run that was running is taken back after a kill -9; never a finish."""
    assert machine.may_adopt(record) is adoptable
    assert machine.may_adopt(None) is False


def test_adopt_counts_as_the_first_start_and_writes() -> None:
    record = Status(Tai64n.from_unix(NOW), 42, run_state=RunState.RUN)
    result = machine.adopt(record, None)
    assert result.actions == (WriteStatus(),)
    assert result.state.starts == 1 and result.state.pid == 42


def test_status_files_leave_out_an_empty_xstatus() -> None:
    """pid, stat, (xstatus), status, in that order; xstatus only with something to say or
    once written (it must then follow status)."""
    names = [name for name, _ in machine.status_files(State(stamp=NOW), has_extra=False)]
    assert names == ["pid", "stat", "status"]
    names = [name for name, _ in machine.status_files(State(stamp=NOW), has_extra=True)]
    assert names == ["pid", "stat", "xstatus", "status"]
    files = dict(machine.status_files(RUNNING, has_extra=False))
    assert files["status"] == pack(status_of(RUNNING))
    assert files["pid"] == f"{RUN_PID}\n".encode()
    assert unpack_extra(files["xstatus"]).flags == ExtraFlag.EXITED


# --- what the driver asks the machine about timeouts and handovers ---------------------


def test_timeout_settings_and_their_defaults() -> None:
    assert machine.TIMEOUT_SETTINGS == {
        Timer.KILL: ("timeout-kill", 0), Timer.FINISH: ("timeout-finish", 5000),
    }
    assert machine.timeout_delay(0) is None  # absent or 0: never
    assert machine.timeout_delay(1500) == 1.5


@pytest.mark.parametrize(
    ("phase", "pid", "watched"),
    [(Phase.RUN, 42, True), (Phase.FINISH, 42, False), (Phase.DOWN, 0, False),
     (Phase.RUN, 0, False)],
)
def test_only_a_running_run_is_watched_after_a_handover(
    phase: Phase, pid: int, watched: bool
) -> None:
    assert machine.watched_after_handover(State(phase=phase, pid=pid)) is watched


# =============================== the process tree (issue 15) ==================


MIXED = machine.Policy(kill_leftovers=True)


def test_spawned_names_its_tree_and_the_files_say_it() -> None:
    """The tree of the new start is written in supervise/tree, before status; it needs
    no xstatus (a service with nothing else to say still has none: one file less)."""
    state = step(DOWN_STARTING, Spawned(5000, tree=TREE), NOW).state
    assert state.tree == TREE
    files = machine.status_files(attrs.evolve(state, last_exit=None), has_extra=False)
    assert [name for name, _ in files] == ["pid", "stat", "tree", "status"]
    assert dict(files)["tree"] == TREE.encode() + b"\n"
    untracked = step(DOWN_STARTING, Spawned(5000), NOW).state
    assert "tree" not in dict(machine.status_files(untracked, has_extra=False))


def test_leftovers_are_reported_not_killed_by_default() -> None:
    """daemontools: ./run exits, the restart is at once, whatever it left behind."""
    result = step(attrs.evolve(RUNNING, tree=TREE), RunExited(0), NOW)
    assert doings(result.actions) == (CancelTimer(Timer.KILL), Spawn())
    assert not result.state.draining


def test_kill_leftovers_drains_the_tree_then_restarts() -> None:
    """KillMode=mixed: TERM+CONT to the rest, KILL at timeout-kill, restart once empty."""
    state, actions = last(attrs.evolve(RUNNING, tree=TREE), (0, RunExited(0, policy=MIXED)))
    assert doings(actions) == (
        CancelTimer(Timer.KILL), SignalTree(signal.SIGTERM), SignalTree(signal.SIGCONT),
        ArmTimeout(Timer.KILL), CheckTree(),
    )
    assert state.draining and state.held and state.phase is Phase.DOWN
    state, actions = last(state, (0.01, TreeCounted(2)))
    assert doings(actions) == (SetTimer(Timer.TREE, TREE_POLL),)
    state, actions = last(state, (5, TimerDue(Timer.KILL)))
    assert doings(actions) == (SignalTree(signal.SIGKILL), SetTimer(Timer.KILL, KILL_REPEAT))
    state, actions = last(state, (0.1, TimerDue(Timer.TREE)), (0, TreeCounted(0)))
    assert Spawn() in actions and not state.draining and not state.held


def test_a_taken_back_run_is_drained_as_one_of_ours() -> None:
    """After a kill -9, the tree the driver follows for the ./run it takes back is written
    (it names this daemon's cgroup now), and its leftovers are drained when it ends
    (the exit of a ./run not our child is unknown: `UNKNOWN_EXIT`)."""
    record = Status(Tai64n.from_unix(NOW), 42, run_state=RunState.RUN)
    taken = machine.adopt(record, None, TREE)
    assert taken.state.tree == TREE and taken.actions == (WriteStatus(),)
    assert dict(machine.status_files(taken.state, has_extra=False))["tree"] == TREE.encode() + b"\n"
    ended = RunExited(*machine.UNKNOWN_EXIT, policy=MIXED, run=taken.state.starts)
    state, actions = last(taken.state, (1, ended))
    assert SignalTree(signal.SIGTERM) in actions and CheckTree() in actions
    assert state.draining
    assert machine.adopted(record, None).tree == ""


def test_kill_leftovers_without_a_tree_changes_nothing() -> None:
    """A service whose tree is not followed (nosetsid, no cgroups) restarts as before."""
    result = step(RUNNING, RunExited(0, policy=MIXED), NOW)
    assert doings(result.actions) == (CancelTimer(Timer.KILL), Spawn())


def test_draining_holds_u_and_d_cancels_the_held_start() -> None:
    drained = attrs.evolve(DOWN_DRAINING, want=Want.DOWN, held=False)
    state, actions = last(drained, (0, Control(Command.UP)))
    assert state.held and Spawn() not in actions
    state, actions = last(state, (0, Control(Command.DOWN)))
    assert not state.held
    state, actions = last(state, (0, TreeCounted(0)))
    assert Spawn() not in actions and not state.draining


def test_draining_with_finish_restarts_after_both() -> None:
    """finish runs while the rest is drained; the start waits for both."""
    state, _ = last(attrs.evolve(RUNNING, tree=TREE),
                    (0, RunExited(1, has_finish=True, policy=MIXED)),
                    (0, FinishSpawned(FINISH_PID)), (0.5, FinishExited(0)))
    assert state.phase is Phase.DOWN and state.held
    state, actions = last(state, (0.5, TreeCounted(0)))
    assert Spawn() in actions


def test_tree_count_when_not_draining_is_ignored() -> None:
    assert step(DOWN_WANT_DOWN, TreeCounted(0), NOW).actions == ()
    assert TABLE[Phase.DOWN][Timer.KILL](DOWN_WANT_DOWN, TimerDue(Timer.KILL), NOW).actions == ()


def test_a_lock_held_by_another_supervisor_gives_the_directory_up() -> None:
    assert machine.retry_setup(lock_held=True, failures=1) is None


def test_a_broken_directory_is_retried_backing_off() -> None:
    delays = [machine.retry_setup(lock_held=False, failures=n) for n in range(1, 7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, machine.MAX_BACKOFF, machine.MAX_BACKOFF]


# --- recovered: a service handed over after a fault in its driver ----------------------


@pytest.mark.parametrize(
    ("start", "actions"),
    [
        (DOWN_STARTING, (Spawn(), WriteStatus())),  # caught between Spawn and its outcome
        (DOWN_THROTTLED, (WriteStatus(),)),  # its start timer was handed over
        (DOWN_WANT_DOWN, (WriteStatus(),)),
        (DOWN_FAILED, (WriteStatus(),)),
        (attrs.evolve(DOWN_STARTING, exiting=True), (WriteStatus(),)),
        (RUNNING, (WriteStatus(),)),
        (RUN_STOPPING, (WriteStatus(),)),
        (FINISHING, (WriteStatus(),)),
    ],
)
def test_recovered_redoes_only_what_may_be_undone(start: State, actions: tuple[Any, ...]) -> None:
    after = machine.recovered(start, NOW)
    assert after.actions == actions
    if actions == (WriteStatus(),):
        assert after.state == start


def test_recovered_start_caught_within_the_second_waits_for_it() -> None:
    caught = attrs.evolve(DOWN_STARTING, last_start=NOW - 0.5)
    after = machine.recovered(caught, NOW)
    assert after.actions == (SetTimer(Timer.START, 0.5), WriteStatus())
    assert after.state.start_pending


def test_recovered_finish_caught_before_its_pid_counts_as_not_started() -> None:
    after = machine.recovered(FINISH_UNSPAWNED, NOW)
    expected = machine.step(FINISH_UNSPAWNED, FinishExited(None), NOW)
    assert after.state == expected.state
    assert after.actions[-1] == WriteStatus()
    assert Spawn() in after.actions

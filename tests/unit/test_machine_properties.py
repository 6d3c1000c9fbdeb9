"""Properties of the state machine over whole histories, checked against a model of its promises.

test_machine.py has every cell, the scenarios, and two random walks that check
per-state invariants (pid iff running, flags only in their phase, round-trips,
no signal without a pid, at most one start a second, never stuck). This module
adds what only a whole history can show, each from README, supervise(8) or machine.py's
docstring rather than from the code:

- phases move only along the graph DOWN -> RUN (Spawned) -> FINISH (RunExited
  with a finish) -> DOWN (FinishExited), or RUN -> DOWN (RunExited without one);
- the status stamp ("up N seconds", "down N seconds") is reset exactly when the
  service starts or goes down, never by a pause, a signal, readiness or a
  command, and never goes back;
- ``want`` is what the last ``u`` / ``d`` / ``o`` said (or a finish exit 125);
- after ``d``, after a finish exit 125, after ``x`` or a daemon shutdown, no
  start until ``u``/``o`` (never, for ``x`` and shutdown); after ``o`` at most one
  start, and none if ``./run`` was not down when ``o`` came ("start if down,
  never restart");
- the last exit shown (xstatus, svstat's ``exited 1``/``killed by SIGTERM``) is
  that of the last ./run that ended; ./finish is told that very exit;
- readiness is of the current run only, and not before it started;
- a daemon shutdown always ends in ``Exit`` once the processes end, and a
  service still running gets its down-signal (or SIGKILL when forced);
- after every burst of steps the status files show the state, except while a
  shutdown's quiet period holds them back or a failed write waits for its
  retry (and then a timer is armed to write them);
- ``GoneForGood`` comes exactly when a run (and its finish) ended and nothing
  will start it again, with that run's exit code;
- the crash-loop policy (``backoff-max``, ``backoff-reset``, ``permafail-deaths``,
  ``permafail-secs``, as supervise(8) says them): after the k-th death in a row of a
  run younger than the reset time, no start before min(2**(k-1), backoff-max)
  seconds from that death, whatever ``u`` says meanwhile; ``d`` ends the back-off;
  the death that makes permafail-deaths within permafail-secs is a permanent
  failure (held down until ``u``, which forgets the deaths counted); only deaths
  that would be restarted count;
- control bytes split across reads at any point give the same commands, and the
  commands of one read applied as one burst (one status write) keep every promise.

The model of the world is the daemon's driver: Spawn/SpawnFinish are answered
at once (Spawned or SpawnFailed, FinishSpawned or FinishExited(None)), status
writes are done once a burst is over and succeed or fail (StatusWritten),
armed timers fire at their deadline, processes die only when they run.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from supervise import control
from supervise.control import Command
from supervise.machine import (
    PERMANENT_FAILURE,
    UNKNOWN_EXIT,
    Action,
    ArmTimeout,
    CancelTimer,
    Control,
    Event,
    Exit,
    FinishExited,
    FinishSpawned,
    GoneForGood,
    Phase,
    Policy,
    Ready,
    RunExited,
    SendDownSignal,
    SetTimer,
    Shutdown,
    Signal,
    Spawn,
    Spawned,
    SpawnFailed,
    SpawnFinish,
    State,
    StatusWritten,
    Timer,
    TimerDue,
    WriteStatus,
    extra_of,
    initial,
    stat_of,
    status_files,
    status_of,
    step,
)
from supervise.status import ExtraFlag, RunState, Want, pack, pack_extra, unpack, unpack_extra

NOW = 1_795_282_400.0
Draw = Callable[..., Any]

#: How ./run ends: (code, signal); (None, 0) is an adopted run whose status is unknown.
run_ends = st.one_of(
    st.tuples(st.sampled_from([0, 1, 2, 100, 111, PERMANENT_FAILURE, 255]), st.just(0)),
    st.tuples(st.integers(0, 255), st.just(0)),
    st.tuples(st.none(), st.sampled_from([signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV])),
    st.tuples(st.none(), st.integers(1, 64)),
    st.just(UNKNOWN_EXIT),
)
NO_POLICY = Policy()  # no setting file: restart once a second, for ever
#: The crash-loop settings read at a death: mostly none (the default), often some.
policies = st.sampled_from([
    Policy(), Policy(), Policy(backoff_max=8.0), Policy(permafail_deaths=3, permafail_secs=10),
    Policy(backoff_max=4.0, backoff_reset=0.5, permafail_deaths=2, permafail_secs=3),
]) | st.builds(Policy, st.sampled_from([0.0, 0.5, 2.0, 30.0]), st.none() | st.floats(0, 20),
               st.integers(0, 4), st.floats(0, 30))
finish_codes = st.sampled_from([None, 0, 1, PERMANENT_FAILURE]) | st.integers(0, 255)
elapsed = st.sampled_from([0.0, 0.001, 0.5, 0.999, 1.0, 1.5, 7.0]) | st.floats(0, 12)

_INTO = {
    # (phase before, phase after) -> the only event type that may cause it
    (Phase.DOWN, Phase.RUN): Spawned,
    (Phase.RUN, Phase.FINISH): RunExited,
    (Phase.RUN, Phase.DOWN): RunExited,
    (Phase.FINISH, Phase.DOWN): FinishExited,
}


@attrs.define
class World:
    """The machine, the processes it runs, the driver's timers, and a model of its promises."""

    draw: Draw
    state: State = attrs.field(factory=State)
    now: float = NOW
    alive: Phase = Phase.DOWN  # what really runs: nothing, ./run or ./finish
    live_pid: int = 0
    next_pid: int = 1000
    timers: dict[Timer, float] = attrs.Factory(dict)
    exited: bool = False
    # --- the model ---
    want: Want = Want.UP
    shut_down: bool = False
    held_down: str | None = None  # why no start may come: "d" or "finish 125"
    once_starts_left: int | None = None  # after `o`: starts still allowed
    last_exit: tuple[int | None, int] | None = None
    failed: bool = False  # finish 125 or given up, until u/o
    started_at: float | None = None  # when the current ./run started
    quick: int = 0  # young deaths in a row, under the policy read at each
    not_before: float | None = None  # no start before this: the back-off of the last death
    deaths: list[float] = attrs.Factory(list)  # deaths counted towards giving up
    on_disk: list[tuple[str, bytes]] | None = None  # the status files last written
    history: list[str] = attrs.Factory(list)

    @classmethod
    def begin(cls, draw: Draw, down_file: bool) -> World:
        world = cls(draw, want=Want.DOWN if down_file else Want.UP)
        if down_file:
            world.held_down = "d"
        start = initial(world.now, down_file)
        world.state = start.state
        world.history.append(f"initial(down_file={down_file}) -> {start.actions}")
        world.check_state()
        assert WriteStatus() in start.actions, "the first status is how clients see us"
        (event,) = world._carry_out_all(State(), start.actions) or [world._write()]
        world.feed(event, write=True)
        return world

    # --- inputs, as the daemon gets them ------------------------------------------------------

    def command(self, command: Command, later: float = 0.0) -> None:
        self.now += later
        self.feed(Control(command))

    def run_dies(self, end: tuple[int | None, int], has_finish: bool, later: float,
                 policy: Policy = NO_POLICY) -> None:
        assert self.alive is Phase.RUN
        self.now += later
        self.alive, self.live_pid = Phase.DOWN, 0
        self.feed(RunExited(end[0], end[1], has_finish, policy=policy))

    def finish_dies(self, code: int | None, later: float) -> None:
        assert self.alive is Phase.FINISH
        self.now += later
        self.alive, self.live_pid = Phase.DOWN, 0
        self.feed(FinishExited(code))

    def ready(self, later: float) -> None:
        self.now += later
        self.feed(Ready(self.state.starts))

    def stale_ready(self, later: float) -> None:
        """Readiness of an earlier start, read late: changes nothing."""
        self.now += later
        before = self.state
        assert self.feed(Ready(self.state.starts - 1)) == []
        assert self.state == before

    def timer(self) -> None:
        """The earliest armed timer fires, at its deadline."""
        timer = min(self.timers, key=lambda each: (self.timers[each], each.value))
        self.now = max(self.now, self.timers.pop(timer))
        self.feed(TimerDue(timer))

    def shutdown(self, force: bool, later: float = 0.0) -> None:
        self.now += later
        self.feed(Shutdown(force))

    def random_input(self, ends: bool = True) -> None:
        """One input of any kind the daemon could get now (without `ends`: no x, no shutdown)."""
        kinds = ["command", "command", "command", "ready", "stale ready",
                 *(["shutdown"] if ends else [])]
        if self.alive is Phase.RUN:
            kinds += ["run dies", "run dies"]
        if self.alive is Phase.FINISH:
            kinds += ["finish dies"]
        if self.timers:
            kinds += ["timer", "timer"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "command":
            commands = [each for each in Command if ends or each is not Command.EXIT]
            self.command(self.draw(st.sampled_from(commands)), self.draw(elapsed))
        elif kind == "shutdown":
            self.shutdown(self.draw(st.booleans()), self.draw(elapsed))
        elif kind == "ready":
            self.ready(self.draw(elapsed))
        elif kind == "stale ready":
            self.stale_ready(self.draw(elapsed))
        elif kind == "run dies":
            self.run_dies(self.draw(run_ends), self.draw(st.booleans()), self.draw(elapsed),
                          self.draw(policies))
        elif kind == "finish dies":
            self.finish_dies(self.draw(finish_codes), self.draw(elapsed))
        else:
            self.timer()

    # --- the driver -------------------------------------------------------------------------

    def feed(self, event: Event, *queued: Event, write: bool = False) -> list[Action]:
        """Step `event`, then each of `queued`, and everything they lead to (as
        `Service._apply`: an action's outcome before the next queued input, nothing after
        Exit); every action taken.

        The status is written once the burst is over, if a step asked for it: the
        commands of one read of ``control`` are one burst.
        """
        assert not self.exited, "the driver feeds nothing after Exit"
        pending = [event]
        inbox = list(queued)
        taken: list[Action] = []
        while pending or (inbox and not self.exited):
            current = pending.pop(0) if pending else inbox.pop(0)
            before = self.state
            transition = step(before, current, self.now)
            self.history.append(f"{current} @{self.now - NOW:.3f} -> {transition.actions}")
            self._update_model(before, current)
            self.check_step(before, current, transition.state, transition.actions)
            self.state = transition.state
            taken += transition.actions
            write = write or WriteStatus() in transition.actions
            pending += self._carry_out_all(before, transition.actions)
            if not pending and (not inbox or self.exited) and write:
                write = False
                pending.append(self._write())
        self.check_state()
        self.check_files()
        return taken

    def _write(self) -> StatusWritten:
        """The driver writes the status files; the disk may be full."""
        if not self.draw(st.integers(0, 5)):
            return StatusWritten(ok=False)
        self.on_disk = status_files(self.state, has_extra=True)
        return StatusWritten()

    def check_files(self) -> None:
        """After a burst, the files show the state, unless held back with a timer to write."""
        if self.exited or self.on_disk == status_files(self.state, has_extra=True):
            return
        held = (self.state.quiet and self.state.pid) or self.state.write_failures
        assert held, f"status files out of date: {self.history}"
        assert Timer.STATUS in self.timers, "held-back status with no timer to write it"

    def _carry_out_all(self, before: State, actions: tuple[Action, ...]) -> list[Event]:
        fed_back: list[Event] = []
        for action in actions:
            fed_back += self._carry_out(before, action)
        return fed_back

    def _carry_out(self, before: State, action: Action) -> list[Event]:
        if isinstance(action, Spawn):
            assert self.alive is Phase.DOWN, "Spawn while a process runs"
            if self.not_before is not None:
                assert self.now >= self.not_before - 1e-6, f"start in a back-off: {self.history}"
            self.not_before = None  # this start is the one the back-off held
            if not self.draw(st.booleans()):
                return [SpawnFailed()]
            self.next_pid += 1
            self.alive, self.live_pid = Phase.RUN, self.next_pid
            return [Spawned(self.next_pid)]
        if isinstance(action, SpawnFinish):
            assert self.alive is Phase.DOWN, "SpawnFinish while a process runs"
            code, signum = self.last_exit or (None, 0)
            assert (action.code, action.signal) == (-1 if code is None else code, signum), (
                "./finish is told the exit of the ./run that just ended"
            )
            if not self.draw(st.booleans()):
                return [FinishExited(None)]
            self.next_pid += 1
            self.alive, self.live_pid = Phase.FINISH, self.next_pid
            return [FinishSpawned(self.next_pid)]
        if isinstance(action, (WriteStatus, GoneForGood)):
            pass  # done at the end of the burst; checked in `check_step`
        elif isinstance(action, (Signal, SendDownSignal)):
            assert self.live_pid and before.pid == self.live_pid, "signal to no live process"
        elif isinstance(action, SetTimer):
            assert action.delay >= 0
            self.timers[action.timer] = self.now + action.delay
        elif isinstance(action, ArmTimeout):
            if self.draw(st.booleans()):  # the setting file exists
                self.timers[action.timer] = self.now + self.draw(st.floats(0.001, 10))
            else:
                self.timers.pop(action.timer, None)
        elif isinstance(action, CancelTimer):
            self.timers.pop(action.timer, None)
        elif isinstance(action, Exit):
            assert self.alive is Phase.DOWN, "Exit while a process runs"
            self.exited = True
        return []

    # --- the model of what README and supervise(8) promise -------------------------------------

    def _update_model(self, before: State, event: Event) -> None:
        if isinstance(event, Control) and event.command in (Command.UP, Command.ONCE):
            self.want = Want.UP if event.command is Command.UP else Want.ONCE
            self.held_down = None
            self.once_starts_left = None
            if self.failed:
                self.failed, self.deaths, self.quick = False, [], 0
            if event.command is Command.ONCE:
                self.once_starts_left = 1 if before.phase is Phase.DOWN else 0
        elif isinstance(event, Control) and event.command is Command.DOWN:
            self.want, self.held_down, self.once_starts_left = Want.DOWN, "d", None
            self.quick, self.not_before = 0, None
        elif isinstance(event, Shutdown):
            self.shut_down = True
        elif isinstance(event, RunExited) and before.phase is Phase.RUN:
            self.last_exit = (event.code, event.signal)
            if self.want is Want.UP and self.held_down is None and not before.exiting:
                self._died(event.policy)
        elif (isinstance(event, FinishExited) and before.phase is Phase.FINISH
              and event.code == PERMANENT_FAILURE):
            self.want, self.held_down, self.once_starts_left = Want.DOWN, "finish 125", None
            self.failed = True
        elif isinstance(event, Spawned):
            self.started_at = self.now
            if self.once_starts_left is not None:
                assert self.once_starts_left > 0, "o: started more than once, or while not down"
                self.once_starts_left -= 1

    def _died(self, policy: Policy) -> None:
        """A death that would be restarted: the back-off it earns, or giving up."""
        assert self.started_at is not None
        lived = self.now - self.started_at
        reset = policy.backoff_max if policy.backoff_reset is None else policy.backoff_reset
        young = policy.backoff_max > 0 and lived < reset
        self.quick = self.quick + 1 if young else 0
        wait = min(2.0 ** (self.quick - 1), policy.backoff_max) if self.quick else 0.0
        self.not_before = self.now + wait if self.quick else None
        if not policy.permafail_deaths:
            self.deaths = []
            return
        self.deaths = [t for t in [*self.deaths, self.now] if t > self.now - policy.permafail_secs]
        if len(self.deaths) >= policy.permafail_deaths:
            self.want, self.held_down, self.once_starts_left = Want.DOWN, "gave up", None
            self.failed, self.quick, self.not_before = True, 0, None

    def check_step(
        self, before: State, event: Event, after: State, actions: tuple[Action, ...]
    ) -> None:
        """What one step may do, given the history (the model is already updated)."""
        # phases move along the graph, each edge by its one event
        if after.phase is not before.phase:
            cause = _INTO.get((before.phase, after.phase))
            assert cause is not None and isinstance(event, cause), (before.phase, after.phase)
            if isinstance(event, RunExited):
                assert (after.phase is Phase.FINISH) == event.has_finish
        # the stamp: reset exactly on a start or on going down, to the time of the step
        restamped = after.phase is not before.phase and after.phase is not Phase.FINISH
        assert after.stamp == (self.now if restamped else before.stamp), (before, after)
        # no start when one is not allowed
        spawns = [action for action in actions if isinstance(action, Spawn)]
        if spawns:
            assert not before.exiting and not after.exiting, "start after x or shutdown"
            assert not self.shut_down, "start after the daemon was told to stop"
            assert self.held_down is None, f"start while held down by {self.held_down}"
            assert self.want in (Want.UP, Want.ONCE)
        # x and shutdown are for good
        if before.exiting:
            assert after.exiting
        # the first readiness of a run counts; a new run is not ready
        if before.ready and after.ready:
            assert after.ready_stamp == before.ready_stamp
        if isinstance(event, Spawned):
            assert not after.ready
        if any(isinstance(action, Exit) for action in actions):
            self._nothing_starts_after_exit(after)
        # down for good: a run ended, no restart will come, the daemon is not leaving
        gone = [action for action in actions if isinstance(action, GoneForGood)]
        went_down = before.phase is not Phase.DOWN and after.phase is Phase.DOWN
        for_good = self.want is not Want.UP or self.held_down is not None
        assert bool(gone) == (went_down and not after.exiting and for_good), (gone, self.history)
        if gone:
            code, signum = self.last_exit or (0, 0)
            assert gone == [GoneForGood(128 + signum if code is None else code)]

    def check_state(self) -> None:
        state = self.state
        assert state.phase is self.alive and state.pid == self.live_pid
        if not self.shut_down:
            assert state.want is self.want, (state.want, self.want)
        assert state.failed == self.failed
        assert state.last_exit == self.last_exit
        if state.ready:
            assert state.phase is Phase.RUN and state.ready_stamp is not None
            assert state.stamp <= state.ready_stamp <= self.now
        if state.start_pending:
            assert Timer.START in self.timers, "a pending start with no timer to make it"
        # what the files show
        record = status_of(state)
        assert unpack(pack(record)) == record
        assert record.run_state is RunState(state.phase.value)
        line = stat_of(state).decode()
        assert line.endswith("\n") and line.split(",")[0].strip() == state.phase.name.lower()
        assert ("want exit" in line) == (state.exiting and state.phase is not Phase.DOWN)
        for notify in (False, True):
            extra = extra_of(attrs.evolve(state, notify=notify))
            assert unpack_extra(pack_extra(extra, record)) == extra
            known = self.last_exit not in (None, UNKNOWN_EXIT)
            assert bool(extra.flags & ExtraFlag.EXITED) == known
            if known:
                code, signum = self.last_exit or (0, 0)
                assert (extra.exit_code, extra.exit_signal) == (code or 0, signum)
            assert bool(extra.flags & ExtraFlag.READY) == state.ready
            assert bool(extra.flags & ExtraFlag.NOTIFY) == notify

    def _nothing_starts_after_exit(self, final: State) -> None:
        """A late input (a control byte already in the FIFO) starts and signals nothing."""
        assert final.phase is Phase.DOWN and final.exiting
        late: list[Event] = [Control(command) for command in Command]
        late += [TimerDue(timer) for timer in Timer] + [Ready(), Shutdown(), Shutdown(True)]
        for event in late:
            for action in step(final, event, self.now + 5).actions:
                assert isinstance(action, (Exit, CancelTimer, WriteStatus)), (event, action)


# --- whole histories, as a hypothesis state machine -----------------------------------------


class Supervision(RuleBasedStateMachine):
    """Random inputs in any order the daemon could see them; the model checked at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.world: World | None = None

    def _world(self, data: st.DataObject) -> World:
        assert self.world is not None
        self.world.draw = data.draw
        return self.world

    @initialize(data=st.data(), down_file=st.booleans())
    def start(self, data: st.DataObject, down_file: bool) -> None:
        self.world = World.begin(data.draw, down_file)

    def _running(self) -> bool:
        return self.world is not None and not self.world.exited

    @precondition(lambda self: self._running())
    @rule(data=st.data(), command=st.sampled_from(Command), later=elapsed)
    def command(self, data: st.DataObject, command: Command, later: float) -> None:
        self._world(data).command(command, later)

    @precondition(lambda self: self._running() and self.world.alive is Phase.RUN)
    @rule(data=st.data(), end=run_ends, has_finish=st.booleans(), later=elapsed,
          policy=policies)
    def run_dies(self, data: st.DataObject, end: tuple[int | None, int], has_finish: bool,
                 later: float, policy: Policy) -> None:
        self._world(data).run_dies(end, has_finish, later, policy)

    @precondition(lambda self: self._running() and self.world.alive is Phase.FINISH)
    @rule(data=st.data(), code=finish_codes, later=elapsed)
    def finish_dies(self, data: st.DataObject, code: int | None, later: float) -> None:
        self._world(data).finish_dies(code, later)

    @precondition(lambda self: self._running())
    @rule(data=st.data(), later=elapsed)
    def ready(self, data: st.DataObject, later: float) -> None:
        """Readiness, also when ./run is gone (a line read after its exit)."""
        self._world(data).ready(later)

    @precondition(lambda self: self._running() and bool(self.world.timers))
    @rule(data=st.data())
    def timer(self, data: st.DataObject) -> None:
        self._world(data).timer()

    @precondition(lambda self: self._running())
    @rule(data=st.data(), force=st.booleans(), later=elapsed, now=st.integers(0, 3))
    def shutdown(self, data: st.DataObject, force: bool, later: float, now: int) -> None:
        """The daemon's SIGTERM (one draw in four: the story usually goes on a while first)."""
        if now == 0:
            self._world(data).shutdown(force, later)

    @precondition(lambda self: self.world is not None and self.world.exited)
    @rule(command=st.sampled_from(Command), later=elapsed)
    def late_command(self, command: Command, later: float) -> None:
        """A byte still in the FIFO after Exit: the daemon no longer reads it, and the
        machine would start and signal nothing anyway."""
        assert self.world is not None
        final = self.world.state
        for action in step(final, Control(command), self.world.now + later).actions:
            assert isinstance(action, (Exit, CancelTimer, WriteStatus)), action

    @invariant()
    def exited_only_down(self) -> None:
        if self.world is not None and self.world.exited:
            assert self.world.state.phase is Phase.DOWN and self.world.alive is Phase.DOWN


Supervision.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSupervision = Supervision.TestCase


# --- shutdown always ends ------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(st.data(), st.booleans(), st.integers(0, 30), st.booleans(), st.booleans())
def test_shutdown_always_ends_in_exit(
    data: st.DataObject, down_file: bool, inputs: int, x_first: bool, force: bool
) -> None:
    """From any reachable state: SIGTERM (or a second, forced one) brings the service down,
    runs ./finish if the run ends with one, and ends in Exit once the processes end."""
    world = World.begin(data.draw, down_file)
    for _ in range(inputs):
        world.random_input(ends=False)
    if x_first:
        world.command(Command.EXIT)
        if world.exited:
            return
    running = world.alive
    actions = world.feed(Shutdown(force))
    if running is Phase.RUN:
        wanted = Signal(signal.SIGKILL) if force else SendDownSignal()
        assert wanted in actions, actions
    if running is Phase.DOWN:
        assert world.exited
    for _ in range(6):  # the run ends, its finish runs and ends, timers fire: a few steps
        if world.exited:
            break
        if world.alive is Phase.RUN:
            has_finish = data.draw(st.booleans())
            end = (None, signal.SIGKILL) if force else data.draw(run_ends)
            world.run_dies(end, has_finish, 0.01)
            if has_finish:
                assert world.alive is Phase.FINISH or world.exited  # finish runs, or cannot
        elif world.alive is Phase.FINISH:
            world.finish_dies(data.draw(finish_codes), 0.01)
        else:
            assert world.timers, f"stuck: nothing runs, no timer, no Exit: {world.history}"
            world.timer()
    assert world.exited, world.history


# --- control bytes, however the FIFO splits them ----------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.data(), st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=8))
def test_control_bytes_in_any_chunks_drive_the_machine(
    data: st.DataObject, written: bytes, cuts: list[int]
) -> None:
    """Arbitrary bytes read in arbitrary pieces: the same commands, each a known one, in order;
    fed to a running service a piece (one read) per burst, every step keeps the model's
    promises and the files written at the end of each burst show the state."""
    points = sorted({0, len(written), *(min(cut, len(written)) for cut in cuts)})
    pieces = [written[a:b] for a, b in zip(points, points[1:], strict=False)]
    commands = [command for piece in pieces for command in control.parse(piece)]
    assert commands == control.parse(written)
    assert all(isinstance(command, Command) for command in commands)
    letters = {command.value[0] for command in Command}
    assert len(commands) == sum(byte in letters for byte in written)
    world = World.begin(data.draw, down_file=False)
    for piece in pieces:
        batch = [Control(command) for command in control.parse(piece)]
        if world.exited:
            break
        if batch:  # one read: one burst, one status write at its end
            world.now += data.draw(elapsed)
            world.feed(*batch)
        if not world.exited and world.alive is not Phase.DOWN and data.draw(st.integers(0, 3)) == 0:
            world.random_input()

"""The supervision state machine of one service directory, as data.

Pure: no I/O, no trio, no clock. `step(state, event, now)` returns the new
state and the actions the driver must carry out, in order. Every
(phase, input) pair has a cell in `TABLE`, like s6-supervise's action grid;
a cell that does nothing says so (`_ignore`) rather than being absent.

This module owns every rule that decides what a service does; the driver
(`supervise.service`) only turns the world into inputs and carries out the
actions, in order, deciding nothing (as h11's `_state` owns HTTP's rules and
its connection only moves bytes). To answer "what does a service do when
X?", read the cell for X here. In particular:

- a readiness line or an exit names the start of ./run it belongs to (`run`);
  one from an earlier start is stale and ignored;
- the status files are written (`WriteStatus`) after every step that changed
  what they show, except while a shutdown's quiet period holds them back
  (`SHUTDOWN_QUIET`); a write that failed is retried on `Timer.STATUS`,
  backing off (`backoff`);
- a service that went down and will not come back by itself is reported
  once (`GoneForGood`: what svscan's ``essential`` acts on);
- spawn failures, setup failures and status write failures all back off by
  `backoff`, up to `MAX_BACKOFF`;
- a crash loop is restarted once a second, unless the service's settings
  (`Policy`, read when ./run died) say to back off or to give up: the k-th
  death in a row of a run younger than ``backoff-reset`` waits
  ``min(2**(k-1) s, backoff-max)`` from the death (`backoff_until`), and
  ``permafail-deaths`` deaths within ``permafail-secs`` are a permanent
  failure, as a ``finish`` exit of 125 is. Deaths count only when a restart
  would follow (want up, not exiting); ``d`` ends a back-off, ``u`` clears a
  failure and the deaths counted.
- what ./run leaves behind (its process tree: `State.tree`, counted by the driver) is
  reported, not killed, unless the service opts in (``kill-leftovers``, read as
  `Policy.kill_leftovers` when ./run dies): then, once ./run is gone, the rest of its
  tree gets TERM and CONT, KILL after ``timeout-kill`` (again every `KILL_REPEAT`), and
  the next start waits until the tree is empty (`State.draining`, `State.held`), which
  the driver is asked every `TREE_POLL` seconds (`CheckTree`, `TreeCounted`).

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

from supervise.control import GROUP_COMMANDS, SIGNALS, Command
from supervise.settings import parse_count, parse_ms
from supervise.status import (
    Extra,
    ExtraFlag,
    RunState,
    Status,
    Want,
    pack,
    pack_extra,
    pid_text,
    stat_text,
)
from supervise.tai import Tai64n

#: Minimum seconds between two starts of ./run (every peer has this).
START_INTERVAL = 1.0
#: After timeout-kill fired, SIGKILL is repeated this often (s6).
KILL_REPEAT = 5.0
#: Exit code of ./finish that means "permanent failure: stay down" (s6).
PERMANENT_FAILURE = 125
#: Longest wait before retrying what failed: a spawn, a status write, taking a directory.
MAX_BACKOFF = 10.0
#: Seconds after its down-signal during a shutdown that a service still running gets
#: its "want down" status: most are gone by then, and their final status is then the
#: only write (half the file creations of a shutdown, which on ext4 is most of its
#: time). Counted from each service's own signal: 1000 services take longer than this
#: to be signalled one after another.
SHUTDOWN_QUIET = 0.25
#: (code, signal) of a ./run whose exit status we cannot know (see `RunExited`).
UNKNOWN_EXIT = (None, 0)
#: Quick deaths in a row counted at most: the back-off has long reached any cap by then.
MAX_QUICK_DEATHS = 64
#: permafail-secs when only permafail-deaths is given (s6-permafailon has no default).
PERMAFAIL_SECS = 60.0
#: Seconds between two counts of a tree being drained (`Timer.TREE`).
TREE_POLL = 0.1


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
    STATUS = "status"  # end of a shutdown's quiet period, or retrying a failed status write
    TREE = "tree"  # count a tree being drained again


# --- inputs ------------------------------------------------------------------


@attrs.frozen
class Policy:
    """What a service's setting files say about a crash loop, read when its ./run died.

    `backoff_max` (``backoff-max``, in seconds here): the longest wait before a
    restart; 0, the default, means no back-off: the one-second rule alone.
    `backoff_reset` (``backoff-reset``): how long a run must have lived to end a
    series of quick deaths; None: `backoff_max`. `permafail_deaths` deaths
    within `permafail_secs` seconds (``permafail-deaths``, ``permafail-secs``:
    s6-permafailon's deathcount and secs) are a permanent failure; 0: never.
    `kill_leftovers` (``kill-leftovers`` exists): drain the tree ./run left behind
    (systemd's ``KillMode=mixed``) before the next start.
    """

    backoff_max: float = 0.0
    backoff_reset: float | None = None
    permafail_deaths: int = 0
    permafail_secs: float = PERMAFAIL_SECS
    kill_leftovers: bool = False


#: How the driver reads a setting file for `crash_policy`: ``read(name, parse, default)``
#: is the file's value, or `default` if it is absent or unusable (the driver says which).
ReadSetting: TypeAlias = Callable[[str, Callable[[str], int], "int | None"], "int | None"]


def crash_policy(read: ReadSetting, exists: Callable[[str], bool]) -> Policy:
    """The `Policy` a service's files give, as they are when its ./run died (none of them:
    the defaults, which restart once a second for ever). The second file of each pair is
    read only if the first turns its rule on, so one unusable while it counts for nothing
    is not said."""
    policy = Policy(kill_leftovers=exists("kill-leftovers"))
    backoff_max = read("backoff-max", parse_ms, 0)
    if backoff_max:
        reset = read("backoff-reset", parse_ms, None)
        policy = attrs.evolve(policy, backoff_max=backoff_max / 1000,
                              backoff_reset=None if reset is None else reset / 1000)
    deaths = read("permafail-deaths", parse_count, 0)
    if deaths:
        secs = read("permafail-secs", parse_count, int(PERMAFAIL_SECS)) or 0
        policy = attrs.evolve(policy, permafail_deaths=deaths, permafail_secs=float(secs))
    return policy


@attrs.frozen
class Control:
    """A control byte, already routed (`supervise.control.route`).

    `group`: where its signals go, as a selector said (True ``+``, the process
    group; False ``=``, the main pid) or None if none did: then `defaults`
    decides, the commands the service's ``signal-group`` file names (the driver
    reads it for a command that signals, when no selector said).
    """

    command: Command
    group: bool | None = None
    defaults: frozenset[Command] = frozenset()


@attrs.frozen
class Spawned:
    """./run was started with this pid; `notify`: with a readiness pipe (notification-fd).

    `tree`: where its processes are followed, as ``supervise/tree`` says it
    (``cgroup PATH`` or ``session SID``); empty when they are not (``nosetsid``
    without cgroups).
    """

    pid: int
    notify: bool = False
    tree: str = ""


@attrs.frozen
class SpawnFailed:
    """./run could not be started (exec or fork failed); the driver logged why."""


@attrs.frozen
class RunExited:
    """./run ended: exit `code` (None if killed) and `signal` (0 if it exited).

    `has_finish` says whether an executable ./finish exists now. (None, 0) is
    `UNKNOWN_EXIT`: an adopted ./run, not our child, whose status we never see.
    `run` is the start it belongs to (`State.starts` then); None: the current one.
    `policy`: the crash-loop settings as they are now (the driver reads them).
    """

    code: int | None
    signal: int = 0
    has_finish: bool = False
    run: int | None = None
    policy: Policy = Policy()


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
    """The service wrote its readiness line on the notification fd of start `run`.

    None: the current start. A line from an earlier start (read after that
    run exited, or queued behind its exit) says nothing about this one.
    """

    run: int | None = None


@attrs.frozen
class StatusWritten:
    """The driver wrote the status files (`ok`), or could not (disk full, directory gone)."""

    ok: bool = True


@attrs.frozen
class TimerDue:
    """A deadline set with `SetTimer` or `ArmTimeout` has passed."""

    timer: Timer


@attrs.frozen
class TreeCounted:
    """The driver counted the processes of the tree (`CheckTree`): `processes` now."""

    processes: int


@attrs.frozen
class Shutdown:
    """The daemon is stopping: bring the service down, then exit.

    `force` (a second SIGTERM/SIGINT) kills what still runs. `defaults`: as for
    `Control`; the stop goes to the group if it names `Command.DOWN`.
    """

    force: bool = False
    defaults: frozenset[Command] = frozenset()


Event: TypeAlias = (
    Control | Spawned | SpawnFailed | RunExited | FinishSpawned | FinishExited | Ready
    | StatusWritten | TimerDue | Shutdown | TreeCounted
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
    """Send `signum` to the current pid, or with `group` to its process group (-pid).

    The group only if the pid leads it (its own session, as we start it); else,
    or if the pid is 0 or 1, the pid alone or nothing (the driver checks).
    """

    signum: int
    group: bool = False


@attrs.frozen
class SignalTree:
    """Send `signum` to every process of the tree (`State.tree`) there is now."""

    signum: int


@attrs.frozen
class CheckTree:
    """Count the processes of the tree now, then feed back `TreeCounted`."""


@attrs.frozen
class SendDownSignal:
    """Send the service's down-signal (``down-signal`` file, default SIGTERM), to the
    group with `group` (as `Signal`)."""

    group: bool = False


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
class WriteStatus:
    """Write the status files for the new state (only those whose bytes changed), then feed
    back `StatusWritten`. Several in one burst of steps may be written once, at its end."""


@attrs.frozen
class GoneForGood:
    """./run went down and nothing will start it again by itself (want down, once, failed).

    `code` is its exit code, or 128 + the signal that killed it (the shell's way).
    """

    code: int


@attrs.frozen
class Exit:
    """Stop supervising this directory: close control/ok, release the lock."""


Action: TypeAlias = (
    Spawn | SpawnFinish | Signal | SendDownSignal | SetTimer | ArmTimeout | CancelTimer
    | WriteStatus | GoneForGood | Exit | SignalTree | CheckTree
)

# --- state -------------------------------------------------------------------


@attrs.frozen
class State:
    """Everything the machine knows about one service.

    `pid` is the pid of ./run, or of ./finish while it runs (as runit shows
    it). `stamp` is the Unix time of the last start or of going down: the
    status file's stamp. `last_start` drives the one-start-a-second rule.
    `starts` counts starts of ./run: the number of the current one. `notify`:
    that start has a readiness pipe. `quiet`: a shutdown holds back status
    writes while ./run still runs (`SHUTDOWN_QUIET`). `write_failures`: status
    writes failed in a row. `quick_deaths`: runs in a row that died younger than
    the policy's reset time; `deaths`: the times of the recent deaths counted
    towards giving up (at most the policy's count); `backoff_until`: the Unix
    time the next start waits for, after a quick death (`Policy`). `down_group`: the
    last ``d`` went to the process group, and so does the KILL of ``timeout-kill``.
    `tree`: where the processes of the last start are followed (`Spawned.tree`);
    `draining`: what it left behind is being stopped (``kill-leftovers``); `held`: a
    start waits for that.
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
    starts: int = 0
    notify: bool = False
    quiet: bool = False
    write_failures: int = 0
    quick_deaths: int = 0
    deaths: tuple[float, ...] = ()
    backoff_until: float | None = None
    down_group: bool = False
    tree: str = ""
    draining: bool = False
    held: bool = False


@attrs.frozen
class Transition:
    """The result of one step."""

    state: State
    actions: tuple[Action, ...] = ()


def initial(now: float, down_file: bool) -> Transition:
    """The state at supervisor start: want down if ``down`` exists, else start.

    The first status is written either way: it is how clients see a supervisor.
    """
    state = State(want=Want.DOWN if down_file else Want.UP, stamp=now)
    if down_file:
        return Transition(state, (WriteStatus(),))
    started = _start(state, now)
    return Transition(started.state, (*started.actions, WriteStatus()))


#: The setting file each timeout is read from (when armed, as s6 does), and its value in
#: milliseconds when the file is absent: no timeout-kill, s6's 5 s for timeout-finish.
TIMEOUT_SETTINGS = {Timer.KILL: ("timeout-kill", 0), Timer.FINISH: ("timeout-finish", 5000)}


def timeout_delay(ms: int) -> float | None:
    """Seconds until a timeout of `ms` milliseconds fires; None for 0, which means never."""
    return ms / 1000 if ms else None


def watched_after_handover(state: State) -> bool:
    """Whether a re-executed daemon must watch the process of `state` again: a running
    ./run (one not its child, taken back after a kill -9, through a pidfd). A ./finish
    is left to end on its own, as `may_adopt` leaves it."""
    return state.pid > 0 and state.phase is Phase.RUN


def recovered(state: State, now: float) -> Transition:
    """A service handed over after a fault escaped its driver, perhaps in the middle of
    carrying out an action: what may not have been done is done again.

    The status is written again (the write may be the action that failed). A
    start caught between its `Spawn` and the outcome (down, wanted up, no start
    pending, not failed, not exiting) starts again: the spawn did not happen, or
    its outcome would have been applied. A start then throttled or backing off
    waits as any other. A ./finish caught between its `SpawnFinish` and the
    outcome (no pid) is one that could not start.
    """
    if state.phase is Phase.FINISH and state.pid <= 0:
        after = step(state, FinishExited(None), now)
    elif (state.phase is Phase.DOWN and state.want is Want.UP and not state.start_pending
          and not state.failed and not state.exiting):
        after = _start(state, now)
    else:
        after = Transition(state)
    return Transition(after.state, (*after.actions, WriteStatus()))


def reads_signal_group(state: State, event: Control | Shutdown) -> bool:
    """Whether `event` may signal ./run with no selector saying where, so the driver must
    hand it the ``signal-group`` file's letters (`Control.defaults`): only while ./run
    runs, for a shutdown's stop or a signalling letter sent without ``+`` or ``=``."""
    if state.phase is not Phase.RUN:
        return False
    if isinstance(event, Shutdown):
        return True
    return event.group is None and event.command in GROUP_COMMANDS


def may_adopt(record: Status | None) -> bool:
    """Whether the status a dead supervisor left names a ./run that may still run.

    Only a running ./run is taken back; a ./finish (runit's state 2) is left
    to end on its own, and the service starts afresh.
    """
    return record is not None and record.pid > 0 and record.run_state in (None, RunState.RUN)


def adopt(record: Status, extra: Extra | None, tree: str = "") -> Transition:
    """Carry on with the ./run of `record`, found still running: see `adopted`."""
    return Transition(adopted(record, extra, tree), (WriteStatus(),))


def adopted(record: Status, extra: Extra | None, tree: str = "") -> State:
    """The state of a ./run (or ./finish) left running by a supervisor that died.

    `record` is the status that supervisor wrote last, `extra` its xstatus if
    bound to that status. The process is the driver's to verify (same pid,
    same start time); the state carries on from the record: its stamp, want,
    pause, TERM sent, and readiness as far as it was reported. It counts as
    this supervisor's first start. `tree`: where the driver follows its processes now
    (`Spawned.tree`: moved into this daemon's cgroup for the service, or its session),
    so ``kill-leftovers`` drains them as for a start of its own.
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
        pid=record.pid, stamp=started, last_start=started, starts=1,
        notify=bool(flags & ExtraFlag.NOTIFY), tree=tree,
    )


def backoff(failures: int, cap: float = MAX_BACKOFF) -> float:
    """Seconds before trying again after `failures` failures in a row: 1, 2, 4, ... `cap`."""
    return min(START_INTERVAL * 2.0 ** min(max(failures - 1, 0), MAX_QUICK_DEATHS), cap)


def retry_setup(lock_held: bool, failures: int) -> float | None:
    """After taking a directory failed `failures` times in a row: seconds until trying again,
    or None to give it up.

    A lock held by another supervisor is final, as daemontools' supervise exits 111 on it:
    two supervisors must never race for one service. Anything else (a missing ``run``, a
    ``supervise`` that is a file...) may be fixed by the operator: retried, backing off.
    """
    return None if lock_held else backoff(failures)


def backing_off(state: State) -> float | None:
    """Until when a start waits for a crash loop's back-off (what svstat shows), or None."""
    if state.phase is Phase.DOWN and state.start_pending:
        return state.backoff_until
    return None


# --- cells -------------------------------------------------------------------

Handler: TypeAlias = Callable[[State, "Event", float], Transition]


def _ignore(state: State, event: Event, now: float) -> Transition:
    return Transition(state)


def _start(state: State, now: float) -> Transition:
    """Start now, or arm the start timer if the last start was under a second ago or a
    back-off holds the start (a clock set back before the service went down ends both).
    While the last run's tree is drained, the start is held until it is empty."""
    if state.draining:
        return Transition(attrs.evolve(state, held=True))
    due = []
    last = state.last_start
    if last is not None and last <= now < last + START_INTERVAL:
        due.append(last + START_INTERVAL)
    until = state.backoff_until
    if until is not None and state.stamp <= now < until:
        due.append(until)
    if due:
        pending = attrs.evolve(state, start_pending=True)
        return Transition(pending, (SetTimer(Timer.START, max(due) - now),))
    return Transition(attrs.evolve(state, start_pending=False, backoff_until=None), (Spawn(),))


def _died(state: State, policy: Policy, now: float) -> State:
    """Count the death of the current ./run: the back-off it earns, or the permanent failure.

    Only a death that would be restarted counts (want up, not exiting, not failed).
    """
    if state.want is not Want.UP or state.exiting or state.failed:
        return state
    lived = now - (now if state.last_start is None else state.last_start)
    reset = policy.backoff_max if policy.backoff_reset is None else policy.backoff_reset
    quick = policy.backoff_max > 0 and 0 <= lived < reset
    quick_deaths = min(state.quick_deaths + 1, MAX_QUICK_DEATHS) if quick else 0
    until = None
    if quick_deaths:
        until = now + backoff(quick_deaths, policy.backoff_max)
        if state.last_start is not None and state.last_start <= now:
            until = max(until, state.last_start + START_INTERVAL)
    deaths: tuple[float, ...] = ()
    if policy.permafail_deaths > 0:
        recent = [t for t in (*state.deaths, now) if now - policy.permafail_secs < t <= now]
        deaths = tuple(recent[-policy.permafail_deaths:])
        if len(deaths) >= policy.permafail_deaths:
            return attrs.evolve(state, failed=True, want=Want.DOWN, deaths=deaths,
                                quick_deaths=0, backoff_until=None)
    return attrs.evolve(state, quick_deaths=quick_deaths, deaths=deaths, backoff_until=until)


def _went_down(state: State, now: float, *actions: Action) -> Transition:
    """./run (and ./finish) are over: restamp, then exit, restart, or stay down for good."""
    down = attrs.evolve(state, phase=Phase.DOWN, pid=0, stamp=now, paused=False)
    if down.exiting:
        return Transition(down, (*actions, Exit()))
    if down.want is Want.UP and not down.failed:
        started = _start(down, now)
        return Transition(started.state, actions + started.actions)
    if down.last_exit is None:
        return Transition(down, actions)
    code, signum = down.last_exit
    return Transition(down, (*actions, GoneForGood(128 + signum if code is None else code)))


def _want_up(state: State, event: Event, now: float) -> Transition:
    """u/o: want up (a back-off still holds the start); a permanent failure is cleared, and
    with it the deaths counted, so the next death does not give up again at once."""
    want = Want.ONCE if _command(event) is Command.ONCE else Want.UP
    if state.failed:
        state = attrs.evolve(state, deaths=(), quick_deaths=0)
    state = attrs.evolve(state, want=want, failed=False)
    if state.phase is Phase.DOWN and not state.exiting:
        return _start(state, now)
    return Transition(state)


def _down_while_down(state: State, event: Event, now: float) -> Transition:
    """d: no start; a back-off ends with its series (the next u starts at once)."""
    stopped = attrs.evolve(
        state, want=Want.DOWN, start_pending=False, backoff_until=None, quick_deaths=0,
        held=False,
    )
    return Transition(stopped, (CancelTimer(Timer.START),))


def _down_while_up(state: State, event: Event, now: float) -> Transition:
    """d (or a shutdown): down-signal then CONT, to the group if `_to_group` says so."""
    group = _to_group(event, Command.DOWN)
    stopping = attrs.evolve(
        state, want=Want.DOWN, paused=False, term_sent=True, quick_deaths=0, backoff_until=None,
        down_group=group,
    )
    return Transition(
        stopping,
        (SendDownSignal(group), Signal(signal.SIGCONT, group), ArmTimeout(Timer.KILL)),
    )


def _want_down(state: State, event: Event, now: float) -> Transition:
    """d while ./finish runs: nothing to signal; a back-off ends with its series."""
    return Transition(attrs.evolve(state, want=Want.DOWN, quick_deaths=0, backoff_until=None))


def _pause(state: State, event: Event, now: float) -> Transition:
    paused = attrs.evolve(state, paused=True)
    stop = Signal(signal.SIGSTOP, _to_group(event, Command.PAUSE))
    return Transition(paused, (stop,) if state.phase is Phase.RUN else ())


def _continue(state: State, event: Event, now: float) -> Transition:
    going = attrs.evolve(state, paused=False)
    cont = Signal(signal.SIGCONT, _to_group(event, Command.CONTINUE))
    return Transition(going, (cont,) if state.phase is Phase.RUN else ())


def _send_signal(state: State, event: Event, now: float) -> Transition:
    command = _command(event)
    if command is Command.TERM:
        state = attrs.evolve(state, term_sent=True)
    return Transition(state, (Signal(SIGNALS[command], _to_group(event, command)),))


def _to_group(event: Event, command: Command) -> bool:
    """Whether `command`'s signals go to the process group: as ``+``/``=`` said, else as
    the service's ``signal-group`` file says (`Control.defaults`); never for a timer's."""
    if isinstance(event, Control) and event.group is not None:
        return event.group
    if isinstance(event, Control | Shutdown):
        return command in event.defaults
    return False


def _exit_now(state: State, event: Event, now: float) -> Transition:
    gone = attrs.evolve(state, exiting=True, start_pending=False, backoff_until=None,
                        held=False)
    return Transition(gone, (CancelTimer(Timer.START), Exit()))


def _exit_later(state: State, event: Event, now: float) -> Transition:
    return Transition(attrs.evolve(state, exiting=True))


def _spawned(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, Spawned)
    running = attrs.evolve(
        state, phase=Phase.RUN, pid=event.pid, stamp=now, last_start=now, paused=False,
        term_sent=False, ready=False, ready_stamp=None, spawn_failures=0, start_pending=False,
        starts=state.starts + 1, notify=event.notify, backoff_until=None, down_group=False,
        tree=event.tree, draining=False, held=False,
    )
    return Transition(running)


def _spawn_failed(state: State, event: Event, now: float) -> Transition:
    failures = state.spawn_failures + 1
    retrying = attrs.evolve(state, spawn_failures=failures, last_start=now, start_pending=True)
    return Transition(retrying, (SetTimer(Timer.START, backoff(failures)),))


def _start_due(state: State, event: Event, now: float) -> Transition:
    if not state.start_pending or state.exiting:
        return Transition(state)
    return Transition(attrs.evolve(state, start_pending=False, backoff_until=None), (Spawn(),))


def _run_exited(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, RunExited)
    if event.run not in (None, state.starts):
        return Transition(state)  # an earlier start's, told late (adopted, handed over)
    ended = attrs.evolve(
        state, term_sent=False, paused=False, ready=False, last_exit=(event.code, event.signal)
    )
    ended = _died(ended, event.policy, now)
    cancel: tuple[Action, ...] = (CancelTimer(Timer.KILL),)
    if event.policy.kill_leftovers and ended.tree:
        ended = attrs.evolve(ended, draining=True)
        cancel += (SignalTree(signal.SIGTERM), SignalTree(signal.SIGCONT),
                   ArmTimeout(Timer.KILL), CheckTree())
    if event.has_finish:
        code = -1 if event.code is None else event.code
        finishing = attrs.evolve(ended, phase=Phase.FINISH, pid=0)
        return Transition(finishing, (*cancel, SpawnFinish(code, event.signal)))
    return _went_down(ended, now, *cancel)


def _finish_spawned(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, FinishSpawned)
    return Transition(attrs.evolve(state, pid=event.pid), (ArmTimeout(Timer.FINISH),))


def _finish_exited(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, FinishExited)
    if event.code == PERMANENT_FAILURE:
        state = attrs.evolve(state, failed=True, want=Want.DOWN)
    return _went_down(state, now, CancelTimer(Timer.FINISH))


def _ready(state: State, event: Event, now: float) -> Transition:
    assert isinstance(event, Ready)
    if state.ready or event.run not in (None, state.starts):
        return Transition(state)
    return Transition(attrs.evolve(state, ready=True, ready_stamp=now))


def _status_written(state: State, event: Event, now: float) -> Transition:
    """A failed write is tried again on `Timer.STATUS`, backing off; a success resets that.

    During a shutdown's quiet period the timer also ends the quiet period: it is kept.
    """
    assert isinstance(event, StatusWritten)
    if event.ok:
        if not state.write_failures:
            return Transition(state)
        cancel = () if state.quiet else (CancelTimer(Timer.STATUS),)
        return Transition(attrs.evolve(state, write_failures=0), cancel)
    failures = state.write_failures + 1
    return Transition(
        attrs.evolve(state, write_failures=failures),
        (SetTimer(Timer.STATUS, backoff(failures)),),
    )


def _status_due(state: State, event: Event, now: float) -> Transition:
    """The quiet period is over, or a failed write is due again: write what there is."""
    return Transition(attrs.evolve(state, quiet=False), (WriteStatus(),))


def _kill_due(state: State, event: Event, now: float) -> Transition:
    if not state.term_sent:
        return Transition(state)
    kill = Signal(signal.SIGKILL, state.down_group)
    return Transition(state, (kill, SetTimer(Timer.KILL, KILL_REPEAT)))


def _kill_tree_due(state: State, event: Event, now: float) -> Transition:
    """timeout-kill while ./run's leftovers are drained: KILL them, again every 5 s."""
    if not state.draining:
        return Transition(state)
    return Transition(state, (SignalTree(signal.SIGKILL), SetTimer(Timer.KILL, KILL_REPEAT)))


def _tree_due(state: State, event: Event, now: float) -> Transition:
    return Transition(state, (CheckTree(),) if state.draining else ())


def _tree_counted(state: State, event: Event, now: float) -> Transition:
    """A drained tree still has processes: count again soon. Empty: the drain is over, its
    KILL timer is disarmed, and a start it held happens (under the usual rules)."""
    assert isinstance(event, TreeCounted)
    if not state.draining:
        return Transition(state)
    if event.processes:
        return Transition(state, (SetTimer(Timer.TREE, TREE_POLL),))
    drained = attrs.evolve(state, draining=False, held=False)
    stop = (CancelTimer(Timer.KILL), CancelTimer(Timer.TREE))
    if not state.held:
        return Transition(drained, stop)
    started = _start(drained, now)
    return Transition(started.state, stop + started.actions)


def _finish_due(state: State, event: Event, now: float) -> Transition:
    return Transition(state, (Signal(signal.SIGKILL),) if state.pid else ())


def _shutdown(state: State, event: Event, now: float) -> Transition:
    """Down and exit; a forced one (second signal) kills. The first holds back the status
    writes of a service still running for `SHUTDOWN_QUIET`: one quick to go is written once."""
    assert isinstance(event, Shutdown)
    state = attrs.evolve(state, exiting=True)
    if state.phase is Phase.DOWN:
        return _exit_now(state, event, now)
    if event.force:
        # no finish pid yet: nothing to kill; ./run's group if its d went there
        group = state.down_group and state.phase is Phase.RUN
        kill = (Signal(signal.SIGKILL, group),) if state.pid else ()
        return Transition(attrs.evolve(state, want=Want.DOWN), kill)
    quiet = attrs.evolve(state, quiet=True)
    hold = SetTimer(Timer.STATUS, SHUTDOWN_QUIET)
    if state.phase is Phase.RUN:
        going = _down_while_up(quiet, event, now)
        return Transition(going.state, (*going.actions, hold))
    return Transition(attrs.evolve(quiet, want=Want.DOWN), (hold,))


def _command(event: Event) -> Command:
    assert isinstance(event, Control)
    return event.command


# --- the table ---------------------------------------------------------------

Key: TypeAlias = "Command | Timer | type[Event]"

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
        StatusWritten: _status_written,
        Timer.START: _start_due,
        Timer.KILL: _kill_tree_due,
        Timer.FINISH: _ignore,
        Timer.STATUS: _status_due,
        Timer.TREE: _tree_due,
        TreeCounted: _tree_counted,
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
        StatusWritten: _status_written,
        Timer.START: _ignore,
        Timer.KILL: _kill_due,
        Timer.FINISH: _ignore,
        Timer.STATUS: _status_due,
        Timer.TREE: _ignore,
        TreeCounted: _ignore,
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
        StatusWritten: _status_written,
        Timer.START: _ignore,
        Timer.KILL: _kill_tree_due,
        Timer.FINISH: _finish_due,
        Timer.STATUS: _status_due,
        Timer.TREE: _tree_due,
        TreeCounted: _tree_counted,
        Shutdown: _shutdown,
    },
}

def key(event: Event) -> Key:
    """The column of `event` in `TABLE`: the command of a control byte, the timer of a
    deadline (a timer of another phase is stale: its cell ignores it), else its type."""
    if isinstance(event, Control):
        return event.command
    if isinstance(event, TimerDue):
        return event.timer
    return type(event)


def step(state: State, event: Event, now: float) -> Transition:
    """Apply one input. `now` is the Unix time the driver saw it.

    Every step that changes what the status files show ends with `WriteStatus`,
    unless a shutdown's quiet period holds it back while ./run still runs.
    """
    transition = TABLE[state.phase][key(event)](state, event, now)
    after = transition.state
    if _shown(after) == _shown(state) or (after.quiet and after.pid):
        return transition
    return Transition(after, (*transition.actions, WriteStatus()))


def _shown(state: State) -> tuple[object, ...]:
    """The fields the status files show (`status_of`, `stat_of`, `extra_of`)."""
    return (
        state.phase, state.want, state.paused, state.term_sent, state.pid, state.stamp,
        state.exiting, state.ready, state.ready_stamp, state.failed, state.last_exit,
        state.notify, backing_off(state), state.tree,
    )


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


def extra_of(state: State) -> Extra:
    """The extra record (readiness, failure, last exit, back-off) for `state`."""
    until = backing_off(state)
    flags = ExtraFlag(0)
    for flag, on in (
        (ExtraFlag.READY, state.ready),
        (ExtraFlag.FAILED, state.failed),
        (ExtraFlag.EXITED, state.last_exit not in (None, UNKNOWN_EXIT)),
        (ExtraFlag.NOTIFY, state.notify),
        (ExtraFlag.FINISHING, state.phase is Phase.FINISH),
        (ExtraFlag.BACKOFF, until is not None),
    ):
        if on:
            flags |= flag
    code, signum = state.last_exit or (0, 0)
    ready_stamp = None if state.ready_stamp is None else Tai64n.from_unix(state.ready_stamp)
    backoff_stamp = None if until is None else Tai64n.from_unix(until)
    return Extra(flags, ready_stamp, 0 if code is None else code, signum, backoff_stamp)


def status_files(state: State, has_extra: bool) -> list[tuple[str, bytes]]:
    """The files of ``supervise/`` for `state`, in the order they are replaced.

    ``status`` last: a reader that sees it new finds the others new too.
    ``xstatus`` is left out while it has nothing to add (`Extra()`) and we
    have not written one (`has_extra`): a reader without it assumes just
    that, and one file less is created per start. ``tree`` (`supervise.tree`)
    is written when the tree is followed (once per start at most: only when it changes).
    """
    record = status_of(state)
    extra = extra_of(state)
    files = [("pid", pid_text(record.pid)), ("stat", stat_of(state))]
    if state.tree:
        files.append(("tree", state.tree.encode() + b"\n"))
    if has_extra or extra != Extra():
        files.append(("xstatus", pack_extra(extra, record)))
    files.append(("status", pack(record)))
    return files

"""The trio driver for one service directory: feeds `machine` and carries out its actions.

One `Service` per directory, all under the daemon's nursery. The driver owns
the directory's descriptors (``supervise/`` with its lock, ``control`` and
``ok`` FIFOs), turns control bytes, child exits, readiness, timers and the
outcome of its own actions into machine inputs in the order they happen, and
does what the machine answers. It decides nothing about the service: every
rule is a cell of `supervise.machine`. Its errors stay inside it: a setup
failure is said once and retried, a failure while running is logged and the
loop goes on, and nothing here can stop another directory.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import time
from collections.abc import Callable

import attrs
import trio

from supervise import (
    adoption,
    control,
    directory,
    fsio,
    guard,
    inject,
    machine,
    say,
    settings,
    tree,
)
from supervise.children import Children, is_child
from supervise.directory import Descriptors, SetupError
from supervise.errtext import describe
from supervise.handover import ServiceHandover
from supervise.readers import Readers
from supervise.reaper import Reaper
from supervise.say import fatal, warning
from supervise.servicedir import ServiceDir
from supervise.statusfiles import StatusFiles


@attrs.define(eq=False)
class Service:
    """Supervises one directory for the life of the daemon, or until told ``x``.

    `stdin`/`stdout`, when given, become fd 0/1 of ./run and ./finish (svscan's
    log pipe). `on_final` hears `machine.GoneForGood`'s code; `settled` is set
    once the first attempt to take the directory is over, taken or not.
    `clock` is the Unix time the machine is told (a test gives one that
    follows trio's virtual clock).
    """

    # The directory, made from the path given (``Service(path, ...)``); `path` reads and
    # renames it (svscan follows a rename: the same service under its new name).
    _dir: ServiceDir = attrs.field(converter=ServiceDir)
    reaper: Reaper
    readers: Readers
    stdin: int | None = attrs.field(default=None, kw_only=True)
    stdout: int | None = attrs.field(default=None, kw_only=True)
    on_final: Callable[[int], None] | None = attrs.field(default=None, kw_only=True)
    clock: Callable[[], float] = attrs.field(default=time.time, kw_only=True)
    on_fault: Callable[[BaseException, str], object] | None = attrs.field(
        default=None, kw_only=True
    )
    refused: bool = False
    faulted: bool = False  # a fault escaped this task: the next image recovers the service
    state: machine.State = attrs.field(factory=machine.State)
    settled: trio.Event = attrs.field(factory=trio.Event)
    _fds: Descriptors | None = None
    _timers: dict[machine.Timer, float] = attrs.field(factory=dict)
    # Inputs wait here, not in a trio channel: a channel hands an input straight to a
    # waiting task, where `settle` could not see it before a handover. A list, not a
    # deque: it holds an input or two, and a deque costs 600 bytes even empty.
    _inbox: list[machine.Event] = attrs.field(factory=list)
    _doorbell: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)
    _files: StatusFiles = attrs.field(factory=StatusFiles)
    _children: Children = attrs.field(init=False)
    _exited: bool = False
    _recover: bool = False  # handed over after a fault (see `machine.recovered`)
    _stop: trio.Event = attrs.field(factory=trio.Event)

    def __attrs_post_init__(self) -> None:
        self._children = Children(
            self.reaper, self.readers, self._post, self._has_finish, self.stdin, self.stdout
        )

    @property
    def path(self) -> str:
        return self._dir.path

    @path.setter
    def path(self, path: str) -> None:
        self._dir.path = path

    @property
    def starts(self) -> int:
        """How many times ./run was started (an adopted one counts as the first)."""
        return self.state.starts

    @property
    def running(self) -> bool:
        """Whether this task still holds the directory."""
        return self._fds is not None

    # --- the task --------------------------------------------------------------

    async def run(self) -> None:
        """Set the directory up (retrying), or carry on after `resume`; supervise until it exits."""
        try:
            if self._fds is not None:  # after a handover: its children are already ours
                self._claim_after_handover()
                if self._recover:
                    self._recover_after_fault()
            elif not await self._setup_until_done():
                return
            assert self._fds is not None and self._fds.control is not None
            control_fd = self._fds.control
            self.readers.watch(control_fd, functools.partial(self._read_control, control_fd))
            self.settled.set()
            await self._loop()
        except BaseException as error:
            if self.on_fault is None or guard.orderly(error):
                raise
            await self._after_fault(error)
        finally:
            self.settled.set()
            self._children.close()
            self._dir.remove_cgroup(self.reaper.cgroups)
            if self._fds is not None:
                if self._fds.control is not None:
                    self.readers.forget(self._fds.control)
                self._fds.close()
            self._fds = None  # the numbers may be reused: nothing may touch them now

    async def _after_fault(self, error: BaseException) -> None:
        """A fault escaped this task: tell the daemon (which re-executes, handing this
        service over as faulted), holding the directory until then; told to stop
        meanwhile (a shutdown may end the daemon before it re-executes), redo what the
        fault may have left undone, as the next image would, and carry the stop out as
        well as the state allows."""
        self.faulted = True
        assert self.on_fault is not None
        self.on_fault(error, self.path)
        await self._stop.wait()
        if self._fds is not None:
            self._recover_after_fault()
            await self._loop()

    def _recover_after_fault(self) -> None:
        """After a fault (handed over, or told to stop before the re-exec): redo what the
        fault may have left undone (`machine.recovered`)."""
        self._recover = False
        with self._dir.burst():
            self._apply(machine.recovered(self.state, self.clock()))

    async def _loop(self) -> None:
        """Apply inputs as they come; fire each timer when due. Idle, it holds no cancel scope."""
        while True:
            self.settle()
            if self._exited:
                return
            deadline = min(self._timers.values(), default=math.inf)
            if deadline == math.inf:
                await self._doorbell.park()
                continue
            with trio.move_on_at(deadline):
                await self._doorbell.park()
            now = trio.current_time()
            for timer, when in list(self._timers.items()):
                if when <= now:
                    del self._timers[timer]
                    self._inbox.append(machine.TimerDue(timer))

    def settle(self) -> None:
        """Apply every input received so far, as one burst (also before a handover: the state
        is complete). The status files are written once, at its end: the commands of one
        read of ``control`` (up to 4 KiB of them) cost one write, not one each."""
        if self._inbox and not self._exited:
            with self._dir.burst():
                self._apply(None)

    def shutdown(self, force: bool = False) -> None:
        """Ask the service to go down and the directory to be released (daemon SIGTERM)."""
        self._stop.set()
        self._post(machine.Shutdown(force))

    def release_when_down(self) -> None:
        """Release the directory once ./run ends on its own (``x``): how a logger drains."""
        self._stop.set()
        self._post(machine.Control(control.Command.EXIT))

    def mute(self) -> None:
        """Say nothing more: the directory is gone, so failing to reach it is expected."""
        self._dir.faults.muted = True

    def descriptors(self) -> dict[int, str]:
        """Each fd held for this directory, with what it is (for the state dump)."""
        if self._fds is None:
            return {}
        held = {fd: f"{self.path}/supervise/{name}" for name, fd in self._fds.numbers().items()}
        if self._children.ready_fd is not None:
            held[self._children.ready_fd] = f"{self.path}: readiness pipe"
        return held

    def _post(self, event: machine.Event) -> None:
        self._inbox.append(event)
        self._doorbell.unpark_all()

    # --- stepping the machine --------------------------------------------------

    def _step(self, event: machine.Event) -> machine.Transition:
        try:
            if isinstance(event, machine.RunExited):
                policy = machine.crash_policy(self._dir.read_setting, self._dir.has_setting)
                event = attrs.evolve(event, policy=policy)
            elif isinstance(event, machine.Control | machine.Shutdown):
                if machine.reads_signal_group(self.state, event):
                    event = attrs.evolve(event, defaults=self._dir.signal_group())
            return machine.step(self.state, event, self.clock())
        except Exception as error:  # one bad step must not end supervision
            warning(f"{self.path}: internal error on {event!r}: {error!r}")
            return machine.Transition(self.state)

    def _apply(
        self, transition: machine.Transition | None, supervise_fd: int | None = None
    ) -> None:
        """Carry out `transition`, then every queued input, stepping through what each
        action leads to, in order.

        An action's outcome (a spawn's pid, a write's success) is the next input,
        before any queued one. The status files are written once, when nothing
        more is queued: a start is one write, not one for the ``u`` and one for
        the pid, and a read of control bytes is one write, not one per byte.
        """
        outcomes: list[machine.Event] = []
        write = False
        while True:
            if transition is not None:
                self.state = transition.state
                for action in transition.actions:
                    if isinstance(action, machine.WriteStatus):
                        write = True
                    elif (outcome := self._do(action)) is not None:
                        outcomes.append(outcome)
            if outcomes:
                event = outcomes.pop(0)
            elif self._inbox and not self._exited:
                event = self._inbox.pop(0)
            elif write:
                write = False
                event = self._write_status(supervise_fd)
            else:
                return
            transition = self._step(event)

    def _do(self, action: machine.Action) -> machine.Event | None:
        try:
            return self._carry_out(action)
        except Exception as error:
            warning(f"{self.path}: internal error on {action!r}: {error!r}")
            return None

    def _carry_out(self, action: machine.Action) -> machine.Event | None:
        match action:
            case machine.Spawn():
                return self._spawn_run()
            case machine.SpawnFinish(code, signum):
                return self._spawn_finish(code, signum)
            case machine.Signal(signum, group):
                self._children.signal(self.state.pid, signum, group)
            case machine.SendDownSignal(group):
                down_signal = self._dir.read_setting("down-signal", settings.parse_signal, 15)
                self._children.signal(self.state.pid, down_signal, group)
            case machine.SetTimer(timer, delay):
                self._timers[timer] = trio.current_time() + delay
            case machine.ArmTimeout(timer):
                self._arm_timeout(timer)
            case machine.CancelTimer(timer):
                self._timers.pop(timer, None)
            case machine.GoneForGood(code):
                if self.on_final is not None:
                    self.on_final(code)
            case machine.Exit():
                self._exited = True
            case machine.SignalTree(signum):
                for pid in tree.followed_members(self.state.tree):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signum)
            case machine.CheckTree():
                return machine.TreeCounted(len(tree.followed_members(self.state.tree)))
        return None

    # --- setup -----------------------------------------------------------------

    async def _setup_until_done(self) -> bool:
        """Take the directory and start what it asks for; retry a broken one. Whether taken."""
        failures = 0
        while not self._stop.is_set():
            try:
                self._setup()
                return True
            except fsio.LockHeld:
                lock_held = True
                fatal(f"unable to acquire {self.path}/supervise/lock: temporary failure")
            except SetupError as error:
                lock_held = False
                self._dir.faults.report("setup", str(error))
            failures += 1
            delay = machine.retry_setup(lock_held, failures)
            if delay is None:
                self.refused = True
                return False
            self.settled.set()
            with trio.move_on_after(delay):
                await self._stop.wait()
        return False

    def _setup(self) -> None:
        """Take the directory; the first actions (usually: start ./run) are carried out
        before the first status is written, so one batch of files says "up"."""
        with directory.opened(self.path) as (service_fd, supervise_fd):
            self._dir.identity = fsio.identity(service_fd)
            self._fds = directory.take(self.path, supervise_fd)
            self._dir.faults.clear("setup")
            self._files.forget()
            with self._dir.burst(service_fd):
                self._apply(self._begin(service_fd, supervise_fd), supervise_fd)
            fault = directory.open_ok(self.path, self._fds, supervise_fd)
            if fault is not None:
                self._dir.faults.report("ok", fault)

    def _begin(self, service_fd: int, supervise_fd: int) -> machine.Transition:
        """Carry on with the ./run a dead supervisor left running, if it still runs; else
        start afresh. Taken back, it is watched with a pidfd (`supervise.adoption`)."""
        record, extra = directory.last_status(supervise_fd)
        if record is not None and machine.may_adopt(record):
            own_session = _setsid(service_fd)
            pidfd = adoption.claim(record.pid, record.stamp.unix(), own_session)
            if pidfd is not None:
                say.line("info", f"{self.path}: run (pid {record.pid}) still runs: "
                         "supervising it again")
                followed, why = adoption.tree_taken_back(
                    record.pid, supervise_fd, own_session, self.reaper.cgroups,
                    self._dir.cgroup(self.reaper.cgroups),
                )
                if why is not None:
                    warning(f"{self.path}: {why}")
                begin = machine.adopt(record, extra, followed)
                self._children.watch_adopted(pidfd, begin.state.starts)
                return begin
        return machine.initial(self.clock(), settings.exists(service_fd, "down"))

    # --- adopted children: not ours to wait for ----------------------------------------

    def _claim_after_handover(self) -> None:
        """After a re-exec: a ./run taken back by `_begin` is not our child; watch it again."""
        pid, run = self.state.pid, self.state.starts
        if not machine.watched_after_handover(self.state) or is_child(pid):
            return
        try:
            with self._dir.opened() as service_fd:
                own_session = _setsid(service_fd)
        except OSError:
            own_session = True
        pidfd = adoption.claim(pid, self.state.stamp, own_session)
        if pidfd is None:
            self._children.adopted_ended(run)
        else:
            self._children.watch_adopted(pidfd, run)

    # --- handing over to a re-executed daemon (SIGHUP) ---------------------------------

    def export(self) -> ServiceHandover | None:
        """What a re-executed daemon needs to carry on, or None if not supervising now."""
        if self._fds is None or self._exited:
            return None
        now = trio.current_time()
        return ServiceHandover(
            fds=self._fds.numbers(),
            state=self.state,
            timers={timer: when - now for timer, when in self._timers.items()},
            ready_fd=self._children.ready_fd,
            identity=self._dir.identity,
            faulted=self.faulted,
        )

    def resume(self, adopted: ServiceHandover) -> None:
        """Take over what `export` described in the previous daemon: same fds, same children.

        Called before the reaper first runs, so no exit of an adopted child is missed.
        """
        fds = adopted.fds
        self._fds = Descriptors(fds["lock"], fds.get("control"), fds.get("ok"))
        self.state = adopted.state
        self._recover = adopted.faulted
        self._children.ready_fd = adopted.ready_fd
        self._children.ready_run = adopted.state.starts
        self._dir.identity = adopted.identity
        now = trio.current_time()
        self._timers = {timer: now + left for timer, left in adopted.timers.items()}
        self._children.resume(self.state)

    # --- actions ---------------------------------------------------------------

    def _spawn_run(self) -> machine.Event:
        inject.point("spawn")
        try:
            with self._dir.opened() as service_fd:
                notify_fd = self._dir.setting(
                    service_fd, "notification-fd", settings.parse_fd, None
                )
                spawned = self._children.start_run(
                    service_fd, self.state.starts + 1, _setsid(service_fd), notify_fd,
                    self._dir.cgroup(self.reaper.cgroups),
                )
        except OSError as error:
            self._dir.faults.report("spawn", f"unable to start {self.path}/run: {describe(error)}")
            return machine.SpawnFailed()
        self._dir.faults.clear("spawn")
        return spawned

    def _spawn_finish(self, code: int, signum: int) -> machine.Event:
        try:
            with self._dir.opened() as service_fd:
                spawned = self._children.start_finish(
                    service_fd, code, signum, _setsid(service_fd),
                    self._dir.cgroup(self.reaper.cgroups),
                )
        except OSError as error:
            why = f"unable to start {self.path}/finish: {describe(error)}"
            self._dir.faults.report("finish", why)
            return machine.FinishExited(None)
        self._dir.faults.clear("finish")
        return spawned

    def _has_finish(self) -> bool:
        return self._dir.has_program("finish")

    def _arm_timeout(self, timer: machine.Timer) -> None:
        name, default = machine.TIMEOUT_SETTINGS[timer]
        delay = machine.timeout_delay(self._dir.read_setting(name, settings.parse_ms, default))
        if delay is None:
            self._timers.pop(timer, None)
        else:
            self._timers[timer] = trio.current_time() + delay

    # --- readers -----------------------------------------------------------------

    def _read_control(self, fd: int) -> None:
        """Turn the control bytes there are into inputs, in the order they were written.

        One read (up to 4 KiB) is one burst of steps with one status write (`settle`), and
        then the other services run: a FIFO flooded with garbage delays no one else.
        """
        inject.point("control")
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        routed = control.route(data)
        if routed.log:
            self._to_log(routed.log)
        if routed.commands:
            self._inbox.extend(
                machine.Control(command, group) for command, group in routed.commands
            )
            self._doorbell.unpark_all()

    def _to_log(self, data: bytes) -> None:
        """encore's ``L``: hand the commands to the log service, written to its own
        ``control`` as a client would (nothing if there is no ``log/`` or no supervisor
        listening there; a FIFO too full to take them now drops them)."""
        try:
            with self._dir.opened() as service_fd:
                fsio.write_fifo(service_fd, "log/supervise/control", data)
        except (FileNotFoundError, NotADirectoryError, BlockingIOError):
            return
        except OSError as error:
            if error.errno != errno.ENXIO:
                self._dir.faults.report("log control", f"unable to control {self.path}/log: "
                                    f"{describe(error)}")
            return
        self._dir.faults.clear("log control")

    # --- status files --------------------------------------------------------------

    def _write_status(self, supervise_fd: int | None = None) -> machine.StatusWritten:
        """Replace the status files whose contents changed: pid, stat, xstatus, then status."""
        if self._fds is None:
            return machine.StatusWritten()
        files = machine.status_files(self.state, self._files.has_extra)
        return machine.StatusWritten(ok=self._files.update(self._dir, files, supervise_fd))

def _setsid(service_fd: int) -> bool:
    """Children get a session of their own unless ``nosetsid`` exists."""
    return not settings.exists(service_fd, "nosetsid")

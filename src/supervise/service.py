"""The trio driver for one service directory: feeds `machine` and carries out its actions.

One `Service` per directory, one task each, all under the daemon's nursery.
The driver owns the directory's descriptors (``supervise/`` with its lock,
``control`` and ``ok`` FIFOs), turns control bytes, child exits, readiness and
timers into machine inputs in the order they happen, and writes the status
files after every step that changed them. Its errors stay inside it: a setup
failure is said once and retried with a growing delay, a failure while running
is logged and the loop goes on, and nothing here can stop another directory.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import attrs
import trio

from supervise import adoption, control, fsio, layout, machine, say, settings, status
from supervise.errtext import describe
from supervise.handover import ServiceHandover
from supervise.readers import Readers
from supervise.reaper import Reaper, describe_wait
from supervise.say import Faults, fatal, warning
from supervise.status import RunState

T = TypeVar("T")

#: Longest wait between two attempts to set up a broken directory, or to write a status.
MAX_RETRY_DELAY = 10.0
#: Seconds after its down-signal during a shutdown that a service still running gets
#: its "want down" status: most are gone by then, and their final status is then the
#: only write (half the file creations of a shutdown, which on ext4 is most of its
#: time). Counted from the signal, not the request: 1000 services take longer than
#: this to be signalled one after another.
SHUTDOWN_QUIET = 0.25
#: The extra record of a service that has nothing to add to ``status``.
_NOTHING_EXTRA = status.Extra()


class SetupError(Exception):
    """A directory could not be set up; the message is the line to say."""


@attrs.define(eq=False)
class Descriptors:
    """What the supervisor holds open for a directory while it supervises it: three fds.

    ``control`` is opened read-write, so it never reads EOF; the directory
    itself and ``supervise/`` are opened only for the step that needs them.
    """

    lock: int
    control: int | None = None
    ok: int | None = None

    def close(self) -> None:
        """Close everything; the lock last, so no second supervisor starts too early."""
        fsio.close_quietly(self.ok, self.control, self.lock)

    def numbers(self) -> dict[str, int]:
        """Each open fd by the name of its file in ``supervise/`` (for handover and dumps)."""
        named = {"lock": self.lock, "control": self.control, "ok": self.ok}
        return {name: fd for name, fd in named.items() if fd is not None}


@attrs.define(eq=False)
class Service:
    """Supervises one directory for the life of the daemon, or until told ``x``.

    `stdin`/`stdout`, when given, become fd 0/1 of ./run and ./finish (svscan's
    log pipe). `on_final` hears the exit code (128 + signal when killed) when
    the service went down and will not come back by itself; `settled` is set
    once the first attempt to take the directory is over, taken or not.
    """

    path: str
    reaper: Reaper
    readers: Readers
    stdin: int | None = attrs.field(default=None, kw_only=True)
    stdout: int | None = attrs.field(default=None, kw_only=True)
    on_final: Callable[[int], None] | None = attrs.field(default=None, kw_only=True)
    refused: bool = False
    starts: int = 0
    state: machine.State = attrs.field(factory=machine.State)
    settled: trio.Event = attrs.field(factory=trio.Event)
    _fds: Descriptors | None = None
    _timers: dict[machine.Timer, float] = attrs.field(factory=dict)
    _queue: list[machine.Event] = attrs.field(factory=list)
    _written: dict[str, bytes] = attrs.field(factory=dict)
    _faults: Faults = attrs.field(factory=Faults)
    _identity: tuple[int, int] | None = None
    _notify: bool = False
    _ready_fd: int | None = None
    # A status write that failed (disk full) is tried again at `_rewrite_at`, backing off.
    _rewrite_at: float = math.inf
    _rewrite_delay: float = 1.0
    _quiet_until: float = -math.inf  # see SHUTDOWN_QUIET
    _stepping: bool = False  # inside `_drain`: `_step_dir` is kept for the whole step
    _step_dir: int | None = None
    _exited: bool = False
    _stop: trio.Event = attrs.field(factory=trio.Event)
    _pidfd: int | None = None  # an adopted ./run's, watched by `readers`
    # Inputs wait here, not in a trio channel: a channel hands an input straight to a
    # waiting task, where `settle` could not see it before a handover. Lists, not
    # deques: they hold an input or two, and a deque costs 600 bytes even empty.
    _inbox: list[machine.Event] = attrs.field(factory=list)
    _doorbell: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)

    # --- the task --------------------------------------------------------------

    async def run(self) -> None:
        """Set the directory up (retrying), or carry on after `resume`; supervise until it exits."""
        resumed = self._fds is not None  # after a handover: its children are already ours
        try:
            if resumed:
                if self._ready_fd is not None:
                    self.readers.watch(self._ready_fd, self._read_ready)
                self._claim_after_handover()
                self._drain()
            elif not await self._setup_until_done():
                return
            control_fd = self._require_fds().control
            assert control_fd is not None
            self.readers.watch(control_fd, functools.partial(self._read_control, control_fd))
            self.settled.set()
            await self._loop()
        finally:
            self.settled.set()
            self._close_ready()
            self._close_pidfd()
            if self._fds is not None:
                if self._fds.control is not None:
                    self.readers.forget(self._fds.control)
                self._fds.close()
            self._fds = None  # the numbers may be reused: nothing may touch them now

    def shutdown(self, force: bool = False) -> None:
        """Ask the service to go down and the directory to be released (daemon SIGTERM)."""
        self._stop.set()
        self._post(machine.Shutdown(force))

    def release_when_down(self) -> None:
        """Release the directory once ./run ends on its own (``x``): how a logger drains."""
        self._stop.set()
        self._post(machine.Control(control.Command.EXIT))

    @property
    def running(self) -> bool:
        """Whether this task still holds the directory."""
        return self._fds is not None

    def descriptors(self) -> dict[int, str]:
        """Each fd held for this directory, with what it is (for svscan's state dump)."""
        if self._fds is None:
            return {}
        held = {fd: f"{self.path}/supervise/{name}" for name, fd in self._fds.numbers().items()}
        if self._ready_fd is not None:
            held[self._ready_fd] = f"{self.path}: readiness pipe"
        return held

    def _post(self, event: machine.Event) -> None:
        self._inbox.append(event)
        self._doorbell.unpark_all()

    async def _loop(self) -> None:
        while not self._exited:
            if self._inbox:
                self._feed(self._inbox.pop(0))
                continue
            deadline = min([*self._timers.values(), self._rewrite_at])
            if deadline == math.inf:  # the usual idle wait: no cancel scope to hold meanwhile
                await self._doorbell.park()
                continue
            with trio.move_on_at(deadline) as waiting:
                await self._doorbell.park()
            if not waiting.cancelled_caught:
                continue
            now = trio.current_time()
            if self._rewrite_at <= now:
                self._announce()
            for timer, when in list(self._timers.items()):
                if when <= now:
                    del self._timers[timer]
                    self._feed(machine.TimerDue(timer))

    # --- setup -----------------------------------------------------------------

    async def _setup_until_done(self) -> bool:
        """Take the directory and start what it asks for; retry a broken one. Whether taken."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                self._setup()
                return True
            except fsio.LockHeld:
                fatal(f"unable to acquire {self.path}/supervise/lock: temporary failure")
                self.refused = True
                return False
            except SetupError as error:
                self._faults.report("setup", str(error))
            self.settled.set()
            with trio.move_on_after(delay):
                await self._stop.wait()
            delay = min(delay * 2, MAX_RETRY_DELAY)
        return False

    def _setup(self) -> None:
        """daemontools' order: supervise/, lock, control, status, ok.

        The first actions (usually: start ./run) are carried out before the first
        status is written, so one batch of files says "up" (creating files is
        what setting up a directory mostly costs). ``ok`` is made and checked
        before, but opened for reading only after that status is in place: a
        client sees the supervisor once the status it reads is ours.
        """
        with _attempt_dir(f"open {self.path}", self.path) as service_fd:
            self._identity = fsio.identity(service_fd)
            supervise_fd = _attempt(
                f"open {self.path}/supervise", fsio.open_supervise_dir, service_fd
            )
            try:
                self._take(service_fd, supervise_fd)
            finally:
                os.close(supervise_fd)

    def _take(self, service_fd: int, supervise_fd: int) -> None:
        fds = Descriptors(
            _attempt(f"open {self.path}/supervise/lock", fsio.take_lock, supervise_fd)
        )
        try:
            fds.control = _attempt(
                f"open {self.path}/supervise/control", fsio.open_fifo, supervise_fd, "control",
                read_write=True,
            )
            _attempt(f"create {self.path}/supervise/ok", fsio.make_fifo, supervise_fd, "ok")
        except BaseException:
            fds.close()
            raise
        self._fds = fds
        self._faults.clear("setup")
        self._written.clear()
        if not self._adopt(service_fd, supervise_fd):
            begin = machine.initial(time.time(), settings.exists(service_fd, "down"))
            self.state = begin.state
            self._act(begin.actions)
        self._step_queued()
        self._announce(supervise_fd)
        try:
            fds.ok = fsio.open_fifo(supervise_fd, "ok", create=False)
        except OSError as error:  # made and checked a moment ago: replaced meanwhile
            self._faults.report("ok", f"unable to open {self.path}/supervise/ok: {describe(error)}")

    # --- taking back a ./run whose supervisor was killed ---------------------------------

    def _adopt(self, service_fd: int, supervise_fd: int) -> bool:
        """Carry on with the ./run the status left by a dead supervisor names, if it still runs.

        Whether it did: then nothing is started, and the process is watched
        with a pidfd (see `supervise.adoption`).
        """
        record, extra = _last_status(supervise_fd)
        if record is None or not record.pid or record.run_state not in (None, RunState.RUN):
            return False
        pidfd = adoption.claim(record.pid, record.stamp.unix(), _setsid(service_fd))
        if pidfd is None:
            return False
        self.state = machine.adopted(record, extra)
        self._notify = extra is not None and bool(extra.flags & status.ExtraFlag.NOTIFY)
        self.starts = 1
        self._watch_adopted(pidfd, record.pid)
        say.line("info", f"{self.path}: run (pid {record.pid}) still runs: supervising it again")
        return True

    def _claim_after_handover(self) -> None:
        """After a re-exec: a ./run taken back by `_adopt` is not our child; watch it again."""
        pid = self.state.pid
        if pid <= 0 or self.state.phase is not machine.Phase.RUN or _is_child(pid):
            return
        try:
            with self._directory() as service_fd:
                own_session = _setsid(service_fd)
        except OSError:
            own_session = True
        pidfd = adoption.claim(pid, self.state.stamp, own_session)
        if pidfd is None:
            self._post(machine.RunExited(*machine.UNKNOWN_EXIT, self._has_finish()))
        else:
            self._watch_adopted(pidfd, pid)

    def _watch_adopted(self, pidfd: int, pid: int) -> None:
        self._close_pidfd()
        self._pidfd = pidfd
        self.readers.watch(pidfd, functools.partial(self._adopted_ended, pid))

    def _adopted_ended(self, pid: int) -> None:
        """An adopted ./run ended (its pidfd is readable); its exit status is not ours to know."""
        self._close_pidfd()
        if self.state.pid == pid and self.state.phase is machine.Phase.RUN:
            self._post(machine.RunExited(*machine.UNKNOWN_EXIT, self._has_finish()))

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            self.readers.forget(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    # --- handing over to a re-executed daemon (svscan's SIGHUP) ----------------------

    def settle(self) -> None:
        """Apply every input already received, so that the state is complete for a handover."""
        while self._inbox and not self._exited:
            self._feed(self._inbox.pop(0))

    def export(self) -> ServiceHandover | None:
        """What a re-executed daemon needs to carry on, or None if not supervising now."""
        if self._fds is None or self._exited:
            return None
        now = trio.current_time()
        return ServiceHandover(
            fds=self._fds.numbers(),
            state=self.state,
            timers={timer: when - now for timer, when in self._timers.items()},
            notify=self._notify,
            ready_fd=self._ready_fd,
            starts=self.starts,
            identity=self._identity,
        )

    def resume(self, adopted: ServiceHandover) -> None:
        """Take over what `export` described in the previous daemon: same fds, same children.

        Called before the reaper first runs, so no exit of an adopted child is missed.
        """
        fds = adopted.fds
        self._fds = Descriptors(fds["lock"], fds.get("control"), fds.get("ok"))
        self.state = adopted.state
        self.starts = adopted.starts
        self._notify = adopted.notify
        self._ready_fd = adopted.ready_fd
        self._identity = adopted.identity
        now = trio.current_time()
        self._timers = {timer: now + left for timer, left in adopted.timers.items()}
        if self.state.pid > 0 and _is_child(self.state.pid):
            on_exit = self._on_run_exit
            if self.state.phase is machine.Phase.FINISH:
                on_exit = self._on_finish_exit
            self.reaper.adopt(self.state.pid, on_exit)

    # --- stepping the machine --------------------------------------------------

    def _feed(self, event: machine.Event) -> None:
        """Apply `event` and everything it leads to, then write the status once."""
        if isinstance(event, machine.RunExited) and any(
            isinstance(waiting, machine.Ready) for waiting in self._inbox
        ):  # that run's readiness, posted after its exit: not the next run's
            self._inbox = [
                waiting for waiting in self._inbox if not isinstance(waiting, machine.Ready)
            ]
        if isinstance(event, machine.Shutdown):
            self._quiet_until = trio.current_time() + SHUTDOWN_QUIET
        self._queue.append(event)
        self._drain()

    def _drain(self) -> None:
        """Step through queued inputs (a spawn queues its outcome), then write the status.

        The service directory is opened once for all of it, when first needed
        (a stop reads two settings, signals, and writes the status).
        """
        self._stepping = True
        try:
            self._step_queued()
            self._announce()
        finally:
            self._stepping = False
            if self._step_dir is not None:
                os.close(self._step_dir)
                self._step_dir = None

    def _step_queued(self) -> None:
        while self._queue:
            current = self._queue.pop(0)
            try:
                transition = machine.step(self.state, current, time.time())
            except Exception as error:  # one bad step must not end supervision
                warning(f"{self.path}: internal error on {current!r}: {error!r}")
                continue
            before = self.state
            self.state = transition.state
            self._act(transition.actions)
            self._tell_if_final(before)

    def _tell_if_final(self, before: machine.State) -> None:
        """Call `on_final` when ./run (and ./finish) ended and nothing will restart it."""
        now = self.state
        if self.on_final is None or now.exiting or now.phase is not machine.Phase.DOWN:
            return
        if before.phase is machine.Phase.DOWN or now.start_pending or now.last_exit is None:
            return
        if now.want is status.Want.UP and not now.failed:
            return
        code, signum = now.last_exit
        self.on_final(128 + signum if code is None else code)

    def _act(self, actions: tuple[machine.Action, ...]) -> None:
        for action in actions:
            try:
                self._do(action)
            except Exception as error:
                warning(f"{self.path}: internal error on {action!r}: {error!r}")

    def _do(self, action: machine.Action) -> None:
        match action:
            case machine.Spawn():
                self._spawn_run()
            case machine.SpawnFinish(code, signum):
                self._spawn_finish(code, signum)
            case machine.Signal(signum):
                self._kill(signum)
            case machine.SendDownSignal():
                self._kill(self._down_signal())
            case machine.SetTimer(timer, delay):
                self._timers[timer] = trio.current_time() + delay
            case machine.ArmTimeout(timer):
                self._arm_timeout(timer)
            case machine.CancelTimer(timer):
                self._timers.pop(timer, None)
            case machine.Exit():
                self._exited = True

    # --- actions ---------------------------------------------------------------

    def _stdio(self) -> dict[int, int]:
        """The child's fd 0/1 when svscan gave this service a log pipe end."""
        pairs = ((0, self.stdin), (1, self.stdout))
        return {theirs: ours for theirs, ours in pairs if ours is not None}

    def _spawn_run(self) -> None:
        try:
            with self._directory() as service_fd:
                pid = self._spawn_run_in(service_fd)
        except OSError as error:
            self._faults.report("spawn", f"unable to start {self.path}/run: {describe(error)}")
            self._queue.append(machine.SpawnFailed())
            return
        self._faults.clear("spawn")
        self.starts += 1
        self._queue.append(machine.Spawned(pid))

    def _spawn_run_in(self, service_fd: int) -> int:
        notify_fd = self._setting(service_fd, "notification-fd", settings.parse_fd, None)
        child_fds = self._stdio()
        ready_read = ready_write = None
        if notify_fd is not None:
            ready_read, ready_write = _pipe_avoiding(notify_fd)
            child_fds[notify_fd] = ready_write
        try:
            pid = self.reaper.spawn(
                service_fd, "./run", [], self._on_run_exit,
                setsid=_setsid(service_fd), fds=child_fds,
            )
        except OSError:
            fsio.close_quietly(ready_read, ready_write)
            raise
        fsio.close_quietly(ready_write)
        self._notify = ready_read is not None
        self._close_ready()  # an older start's: what it may still say is not about this one
        if ready_read is not None:
            self._ready_fd = ready_read
            self.readers.watch(ready_read, self._read_ready)
        return pid

    def _on_run_exit(self, wait_status: int) -> None:
        code, signum = describe_wait(wait_status)
        self._post(machine.RunExited(code, signum, self._has_finish()))

    def _has_finish(self) -> bool:
        try:
            with self._directory() as service_fd:
                return settings.is_program(service_fd, "finish")
        except OSError:
            return False

    def _spawn_finish(self, code: int, signum: int) -> None:
        try:
            with self._directory() as service_fd:
                pid = self.reaper.spawn(
                    service_fd, "./finish", [str(code), str(signum)], self._on_finish_exit,
                    setsid=_setsid(service_fd), fds=self._stdio(),
                )
        except OSError as error:
            self._faults.report("finish", f"unable to start {self.path}/finish: {describe(error)}")
            self._queue.append(machine.FinishExited(None))
            return
        self._faults.clear("finish")
        self._queue.append(machine.FinishSpawned(pid))

    def _on_finish_exit(self, wait_status: int) -> None:
        self._post(machine.FinishExited(describe_wait(wait_status)[0]))

    def _kill(self, signum: int) -> None:
        pid = self.state.pid
        if pid > 0:  # never 0 or -1: those would signal our own group or everyone
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _down_signal(self) -> int:
        return self._read_setting("down-signal", settings.parse_signal, 15)

    def _arm_timeout(self, timer: machine.Timer) -> None:
        if timer is machine.Timer.KILL:
            ms = self._read_setting("timeout-kill", settings.parse_ms, 0)
        else:
            ms = self._read_setting(
                "timeout-finish", settings.parse_ms, settings.DEFAULT_FINISH_MS
            )
        if ms:
            self._timers[timer] = trio.current_time() + ms / 1000
        else:
            self._timers.pop(timer, None)

    def _read_setting(self, name: str, parse: Callable[[str], T], default: T) -> T:
        """`_setting` with the directory opened for the one read."""
        try:
            with self._directory() as service_fd:
                return self._setting(service_fd, name, parse, default)
        except OSError as error:
            self._faults.report(name, f"unable to read {self.path}/{name}: {describe(error)}")
            return default

    def _setting(
        self, service_fd: int, name: str, parse: Callable[[str], T], default: T
    ) -> T:
        """The value of setting file `name`, or `default` if absent or unusable (said once)."""
        try:
            text = settings.read_text(service_fd, name)
            value = default if text is None else parse(text)
        except OSError as error:
            self._faults.report(name, f"unable to read {self.path}/{name}: {describe(error)}")
            return default
        except settings.SettingError as error:
            self._faults.report(name, f"{self.path}/{name}: {error}; using the default")
            return default
        self._faults.clear(name)
        return value

    def _directory(self) -> contextlib.AbstractContextManager[int]:
        """The service directory for one step, refused if it is no longer the one we took."""
        if not self._stepping:
            return fsio.directory(self.path, self._identity)
        if self._step_dir is None:
            self._step_dir = fsio.open_expected(self.path, self._identity)
        return contextlib.nullcontext(self._step_dir)

    def mute(self) -> None:
        """Say nothing more: the directory is gone, so failing to reach it is expected."""
        self._faults.muted = True

    def _require_fds(self) -> Descriptors:
        if self._fds is None:
            raise RuntimeError("directory is not set up")
        return self._fds

    # --- readers -----------------------------------------------------------------

    def _read_control(self, fd: int) -> None:
        """Turn the control bytes there are into inputs, in the order they were written."""
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        for command in control.parse(data):
            self._post(machine.Control(command))

    def _read_ready(self) -> None:
        """Read the notification pipe of the current start of ./run: ready at a newline."""
        if self._ready_fd is None:
            return
        try:
            data = os.read(self._ready_fd, 4096)
        except BlockingIOError:
            return
        if data and b"\n" not in data:
            return
        self._close_ready()
        if data:
            self._post(machine.Ready())

    def _close_ready(self) -> None:
        if self._ready_fd is not None:
            self.readers.forget(self._ready_fd)
            os.close(self._ready_fd)
            self._ready_fd = None

    # --- status files --------------------------------------------------------------

    def _announce(self, supervise_fd: int | None = None) -> None:
        """Write the files whose contents changed: pid, stat, xstatus, then status.

        `supervise_fd`, during setup, saves opening the directories again.
        """
        if self._fds is None:
            return
        if self.state.pid and trio.current_time() < self._quiet_until:
            self._rewrite_at = min(self._rewrite_at, self._quiet_until)
            return
        record = machine.status_of(self.state)
        extra = machine.extra_of(self.state, self._notify)
        contents = [
            ("pid", status.pid_text(record.pid)),
            ("stat", machine.stat_of(self.state)),
            ("xstatus", status.pack_extra(extra, record)),
            ("status", status.pack(record)),
        ]
        if extra == _NOTHING_EXTRA and "xstatus" not in self._written:
            del contents[2]  # a reader without xstatus assumes just that: one file less to create
        changed = [(name, data) for name, data in contents if self._written.get(name) != data]
        if not changed:
            return
        try:
            if supervise_fd is not None:
                self._write(supervise_fd, changed)
            else:
                with self._directory() as service_fd:
                    opened = fsio.open_dir(fsio.SUPERVISE, service_fd)
                    try:
                        self._write(opened, changed)
                    finally:
                        os.close(opened)
        except OSError as error:
            text = str(error) if isinstance(error, _WriteFailed) else (
                f"unable to reach {self.path}/supervise: {describe(error)}"
            )
            self._faults.report("status", text)
            self._rewrite_at = trio.current_time() + self._rewrite_delay
            self._rewrite_delay = min(self._rewrite_delay * 2, MAX_RETRY_DELAY)
            return
        self._faults.clear("status")
        self._rewrite_at, self._rewrite_delay = math.inf, 1.0

    def _write(self, supervise_fd: int, changed: list[tuple[str, bytes]]) -> None:
        """Replace each file; one that cannot be written (runit's `pid` made a directory)
        does not keep the others, `status` above all, from being written."""
        failed: _WriteFailed | None = None
        for name, data in changed:
            try:
                fsio.replace_file(supervise_fd, name, data)
            except OSError as error:
                failed = failed or _WriteFailed(
                    f"unable to write {self.path}/supervise/{name}: {describe(error)}"
                )
                continue
            self._written[name] = data
        if failed is not None:
            raise failed


class _WriteFailed(OSError):
    """A status file could not be written; the message names it (the others were tried)."""


def _last_status(supervise_fd: int) -> tuple[status.Status | None, status.Extra | None]:
    """The status (and the xstatus bound to it) a previous supervisor left; None if unusable."""
    try:
        record_bytes = fsio.read_small(supervise_fd, "status")
        extra_bytes = fsio.read_small(supervise_fd, "xstatus")
    except OSError:
        return None, None
    if record_bytes is None:
        return None, None
    try:
        record = status.unpack(record_bytes)
    except status.StatusFormatError:
        return None, None
    extra = None
    if extra_bytes is not None and layout.extra_matches(extra_bytes, record_bytes):
        try:
            extra = status.unpack_extra(extra_bytes)
        except status.StatusFormatError:
            pass
    return record, extra


def _is_child(pid: int) -> bool:
    """Whether `pid` is our own child (we can wait for it), without reaping it."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _setsid(service_fd: int) -> bool:
    """Children get a session of their own unless ``nosetsid`` exists."""
    return not settings.exists(service_fd, "nosetsid")


@contextlib.contextmanager
def _attempt_dir(what: str, path: str) -> Iterator[int]:
    """`fsio.directory`, with a failure to open it turned into a `SetupError`."""
    service_fd = _attempt(what, fsio.open_dir, path)
    try:
        yield service_fd
    finally:
        os.close(service_fd)


def _attempt(what: str, function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Call `function`; turn an OSError into a `SetupError` saying ``unable to WHAT: why``."""
    try:
        return function(*args, **kwargs)
    except fsio.NotFifo as error:
        raise SetupError(f"unable to {what}: {error.strerror}") from None
    except OSError as error:
        raise SetupError(f"unable to {what}: {describe(error)}") from None


def _pipe_avoiding(target: int) -> tuple[int, int]:
    """A close-on-exec pipe whose ends are not `target` (dup2 onto itself would keep CLOEXEC).

    Its read end does not block: it is read only when `Readers` says it is readable.
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    while target in (read_end, write_end):
        spare = os.pipe2(os.O_CLOEXEC)
        fsio.close_quietly(read_end, write_end)
        read_end, write_end = spare
    os.set_blocking(read_end, False)
    return read_end, write_end

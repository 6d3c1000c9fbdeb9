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

import collections
import math
import os
import time
from collections.abc import Callable
from typing import TypeVar

import attrs
import trio

from supervise import control, fsio, machine, settings, status
from supervise.errtext import describe
from supervise.reaper import Reaper, describe_wait
from supervise.say import Faults, fatal, warning

T = TypeVar("T")

#: Longest wait between two attempts to set up a broken directory.
MAX_SETUP_DELAY = 10.0


class SetupError(Exception):
    """A directory could not be set up; the message is the line to say."""


@attrs.define(eq=False)
class Descriptors:
    """What the supervisor holds open for a directory while it supervises it."""

    service: int
    supervise: int | None = None
    lock: int | None = None
    control_read: int | None = None
    control_write: int | None = None
    ok: int | None = None

    def close(self) -> None:
        """Close everything; the lock last, so no second supervisor starts too early."""
        fsio.close_quietly(
            self.ok, self.control_read, self.control_write, self.supervise, self.service, self.lock
        )


@attrs.define(eq=False)
class Service:
    """Supervises one directory for the life of the daemon, or until told ``x``."""

    path: str
    reaper: Reaper
    refused: bool = False
    state: machine.State = attrs.field(factory=machine.State)
    _fds: Descriptors | None = None
    _timers: dict[machine.Timer, float] = attrs.field(factory=dict)
    _queue: collections.deque[machine.Event] = attrs.field(factory=collections.deque)
    _written: dict[str, bytes] = attrs.field(factory=dict)
    _faults: Faults = attrs.field(factory=Faults)
    _notify: bool = False
    _generation: int = 0
    _exited: bool = False
    _stop: trio.Event = attrs.field(factory=trio.Event)
    _nursery: trio.Nursery | None = None
    _send: trio.MemorySendChannel[machine.Event] = attrs.field(init=False)
    _receive: trio.MemoryReceiveChannel[machine.Event] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[machine.Event](math.inf)

    # --- the task --------------------------------------------------------------

    async def run(self) -> None:
        """Set the directory up (retrying), then supervise it until it exits."""
        first_actions = await self._setup_until_done()
        if first_actions is None:
            return
        fds = self._require_fds()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._read_control, fds.control_read)
                self._act(first_actions)
                self._drain()
                await self._loop()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            self._fds = None  # the numbers may be reused: nothing may touch them now
            fds.close()

    def shutdown(self, force: bool = False) -> None:
        """Ask the service to go down and the directory to be released (daemon SIGTERM)."""
        self._stop.set()
        self._post(machine.Shutdown(force))

    def _post(self, event: machine.Event) -> None:
        try:
            self._send.send_nowait(event)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    async def _loop(self) -> None:
        while not self._exited:
            deadline = min(self._timers.values(), default=math.inf)
            with trio.move_on_at(deadline):
                event = await self._receive.receive()
                self._feed(event)
                continue
            now = trio.current_time()
            for timer, when in list(self._timers.items()):
                if when <= now:
                    del self._timers[timer]
                    self._feed(machine.TimerDue(timer))

    # --- setup -----------------------------------------------------------------

    async def _setup_until_done(self) -> tuple[machine.Action, ...] | None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                return self._setup()
            except fsio.LockHeld:
                fatal(f"unable to acquire {self.path}/supervise/lock: temporary failure")
                self.refused = True
                return None
            except SetupError as error:
                self._faults.report("setup", str(error))
            with trio.move_on_after(delay):
                await self._stop.wait()
            delay = min(delay * 2, MAX_SETUP_DELAY)
        return None

    def _setup(self) -> tuple[machine.Action, ...]:
        """daemontools' order: supervise/, lock, control, status, ok; the first actions."""
        fds = Descriptors(_attempt(f"open {self.path}", fsio.open_dir, self.path))
        try:
            fds.supervise = _attempt(
                f"open {self.path}/supervise", fsio.open_supervise_dir, fds.service
            )
            fds.lock = _attempt(f"open {self.path}/supervise/lock", fsio.take_lock, fds.supervise)
            fds.control_read, fds.control_write = _attempt(
                f"open {self.path}/supervise/control", fsio.open_fifo, fds.supervise, "control",
                writer=True,
            )
            self._fds = fds
            down_file = settings.exists(fds.service, "down")
            begin = machine.initial(time.time(), down_file)
            self.state = begin.state
            self._written.clear()
            self._announce()
            ok_path = f"open {self.path}/supervise/ok"
            fds.ok, _ = _attempt(ok_path, fsio.open_fifo, fds.supervise, "ok")
        except BaseException:
            self._fds = None
            fds.close()
            raise
        self._faults.clear("setup")
        return begin.actions

    # --- stepping the machine --------------------------------------------------

    def _feed(self, event: machine.Event) -> None:
        """Apply `event` and everything it leads to, then write the status once."""
        self._queue.append(event)
        self._drain()

    def _drain(self) -> None:
        """Step through queued inputs (a spawn queues its outcome), then write the status."""
        while self._queue:
            current = self._queue.popleft()
            try:
                transition = machine.step(self.state, current, time.time())
            except Exception as error:  # one bad step must not end supervision
                warning(f"{self.path}: internal error on {current!r}: {error!r}")
                continue
            self.state = transition.state
            self._act(transition.actions)
        self._announce()

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

    def _spawn_run(self) -> None:
        fds = self._require_fds()
        notify_fd = self._setting("notification-fd", settings.parse_fd, None)
        child_fds: dict[int, int] = {}
        ready_read = None
        if notify_fd is not None:
            ready_read, ready_write = _pipe_avoiding(notify_fd)
            child_fds[notify_fd] = ready_write
        self._generation += 1
        generation = self._generation
        try:
            pid = self.reaper.spawn(
                fds.service, "./run", [], self._on_run_exit,
                setsid=self._setsid(), fds=child_fds,
            )
        except OSError as error:
            fsio.close_quietly(ready_read, *child_fds.values())
            self._faults.report("spawn", f"unable to start {self.path}/run: {describe(error)}")
            self._queue.append(machine.SpawnFailed())
            return
        self._faults.clear("spawn")
        fsio.close_quietly(*child_fds.values())
        self._notify = ready_read is not None
        if ready_read is not None:
            if self._nursery is None:
                os.close(ready_read)
            else:
                self._nursery.start_soon(self._read_ready, ready_read, generation)
        self._queue.append(machine.Spawned(pid))

    def _on_run_exit(self, wait_status: int) -> None:
        code, signum = describe_wait(wait_status)
        fds = self._fds
        has_finish = fds is not None and settings.is_program(fds.service, "finish")
        self._post(machine.RunExited(code, signum, has_finish))

    def _spawn_finish(self, code: int, signum: int) -> None:
        fds = self._require_fds()
        try:
            pid = self.reaper.spawn(
                fds.service, "./finish", [str(code), str(signum)], self._on_finish_exit,
                setsid=self._setsid(),
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

    def _setsid(self) -> bool:
        """Children get a session of their own unless ``nosetsid`` exists."""
        return not settings.exists(self._require_fds().service, "nosetsid")

    def _down_signal(self) -> int:
        return self._setting("down-signal", settings.parse_signal, 15)

    def _arm_timeout(self, timer: machine.Timer) -> None:
        if timer is machine.Timer.KILL:
            ms = self._setting("timeout-kill", settings.parse_ms, 0)
        else:
            ms = self._setting("timeout-finish", settings.parse_ms, settings.DEFAULT_FINISH_MS)
        if ms:
            self._timers[timer] = trio.current_time() + ms / 1000
        else:
            self._timers.pop(timer, None)

    def _setting(self, name: str, parse: Callable[[str], T], default: T) -> T:
        """The value of setting file `name`, or `default` if absent or unusable (said once)."""
        try:
            text = settings.read_text(self._require_fds().service, name)
            value = default if text is None else parse(text)
        except OSError as error:
            self._faults.report(name, f"unable to read {self.path}/{name}: {describe(error)}")
            return default
        except settings.SettingError as error:
            self._faults.report(name, f"{self.path}/{name}: {error}; using the default")
            return default
        self._faults.clear(name)
        return value

    def _require_fds(self) -> Descriptors:
        if self._fds is None:
            raise RuntimeError("directory is not set up")
        return self._fds

    # --- readers -----------------------------------------------------------------

    async def _read_control(self, fd: int | None) -> None:
        """Turn control bytes into inputs, in the order they were written."""
        assert fd is not None
        while True:
            for command in control.parse(await _read_some(fd)):
                self._post(machine.Control(command))

    async def _read_ready(self, fd: int, generation: int) -> None:
        """Wait for a newline on the notification pipe of one start of ./run."""
        try:
            while True:
                data = await _read_some(fd)
                if not data:
                    return
                if b"\n" in data:
                    if generation == self._generation:
                        self._post(machine.Ready())
                    return
        finally:
            os.close(fd)

    # --- status files --------------------------------------------------------------

    def _announce(self) -> None:
        """Write the files whose contents changed: pid, stat, xstatus, then status."""
        fds = self._fds
        if fds is None or fds.supervise is None:
            return
        record = machine.status_of(self.state)
        contents = (
            ("pid", status.pid_text(record.pid)),
            ("stat", machine.stat_of(self.state)),
            ("xstatus", status.pack_extra(machine.extra_of(self.state, self._notify), record)),
            ("status", status.pack(record)),
        )
        for name, data in contents:
            if self._written.get(name) == data:
                continue
            try:
                fsio.replace_file(fds.supervise, name, data)
            except OSError as error:
                self._faults.report(
                    "status", f"unable to write {self.path}/supervise/{name}: {describe(error)}"
                )
                return
            self._written[name] = data
        self._faults.clear("status")


def _attempt(what: str, function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Call `function`; turn an OSError into a `SetupError` saying ``unable to WHAT: why``."""
    try:
        return function(*args, **kwargs)
    except fsio.NotFifo as error:
        raise SetupError(f"unable to {what}: {error.strerror}") from None
    except OSError as error:
        raise SetupError(f"unable to {what}: {describe(error)}") from None


async def _read_some(fd: int) -> bytes:
    """The next bytes from a non-blocking fd, waiting in trio until there are some (b"" at EOF)."""
    while True:
        await trio.lowlevel.wait_readable(fd)
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            continue


def _pipe_avoiding(target: int) -> tuple[int, int]:
    """A close-on-exec pipe whose ends are not `target` (dup2 onto itself would keep CLOEXEC)."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    while target in (read_end, write_end):
        spare = os.pipe2(os.O_CLOEXEC)
        fsio.close_quietly(read_end, write_end)
        read_end, write_end = spare
    return read_end, write_end

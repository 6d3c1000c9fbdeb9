"""One entry of the daemon: a service, its logger if it has ``log/``, and the pipe between.

The trio driver of `supervise.entry_machine`, which decides everything: in
what order the two start and stop, when a released directory is taken again,
how long a logger may take to drain. This file feeds it inputs (a task
ended, a timer is due, the daemon says stop) and carries out its actions.

The pipe is made when the entry is first seen and both ends stay with the
entry for its whole life, so either side can die and be restarted without a
line lost: whatever the service wrote waits in the pipe for the next logger.

An entry without a logger (most of them, and every one of ``supervise``)
runs its service in its own task, with no nursery and no event: a thousand
of them must stay cheap.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import attrs
import trio

from supervise import adoption, dump, fsio, guard
from supervise import entry_machine as em
from supervise.handover import EntryHandover
from supervise.readers import Readers
from supervise.reaper import Reaper
from supervise.scan import Key
from supervise.service import Service

#: Re-exported for the daemon and the tests: the machine owns them.
RETAKE_DELAY = em.RETAKE_DELAY
LOG_GRACE = em.LOG_GRACE


@attrs.define(eq=False)
class Host:
    """What every entry of one daemon shares: one of these per daemon, not per entry.

    `on_final` hears a service's exit code when it went down for good (see
    `Service.on_final`); `on_service_down` hears that an entry's service is
    released for good; `retake`: take a released directory again (svscan).
    `factory` makes the services (a fake in tests). `on_fault` hears a fault that
    escaped an entry's or a service's task (`supervise.guard`), which then waits,
    holding what it has, until the daemon re-executes or `abandon` is set.
    """

    reaper: Reaper
    readers: Readers
    on_final: Callable[[Entry, int], None] | None = None
    on_service_down: Callable[[Entry], None] | None = None
    retake: bool = True
    factory: Callable[..., Service] = Service
    on_fault: Callable[[BaseException, str], object] | None = None
    abandon: trio.Event | None = None


@attrs.define(eq=False)
class Entry:
    """A directory of the daemon, supervised with its logger."""

    name: str
    key: Key
    host: Host
    state: em.State
    log_in: int | None = None  # the pipe's read end: the logger's stdin
    log_out: int | None = None  # the pipe's write end: the service's stdout
    main: Service | None = None
    log: Service | None = None
    refused: bool = False  # the service could not take its directory (its lock was held)
    _nursery: trio.Nursery | None = None  # only an entry with a logger has one
    _inline: Service | None = None  # without a nursery: the service this task runs next
    _timers: dict[em.Timer, float] | None = None
    _wakeup: trio.Event | None = None  # made while the task waits, for no longer
    _pending: list[em.Input] | None = None  # inputs posted while an input is being fed

    @classmethod
    def create(cls, name: str, key: Key, host: Host, log: bool) -> Entry:
        """A new entry; with a log pipe if `log` (the pipe is close-on-exec for everyone else).

        The pipe of a killed svscan is taken back when its logger or service still runs.
        """
        state = em.new(log, host.retake)
        if not log:
            return cls(name, key, host, state)
        read_end, write_end = adoption.recover_pipe(name) or os.pipe2(os.O_CLOEXEC)
        return cls(name, key, host, state, read_end, write_end)

    @classmethod
    def resume(cls, handed: EntryHandover, host: Host) -> Entry:
        """The entry a previous image exported, with its services resumed."""
        read_end, write_end = handed.pipe or (None, None)
        has_log = read_end is not None
        main, log = handed.main, handed.log if has_log else None
        state = em.handed_over(has_log, main is not None, log is not None, host.retake)
        entry = cls(handed.name, handed.key, host, state, read_end, write_end)
        if main is not None:
            entry._new_main().resume(main)
        if log is not None:
            entry._new_log().resume(log)
        return entry

    def export(self) -> EntryHandover:
        """This entry as a re-executed daemon needs it (see `supervise.handover`)."""
        pipe = None if self.log_in is None else (self.log_in, self.log_out)
        return EntryHandover(
            self.name, self.key, pipe,
            None if self.main is None else self.main.export(),
            None if self.log is None else self.log.export(),
        )

    # --- what the daemon tells it ------------------------------------------------------

    def stop(self, force: bool = False, logs_too: bool = True) -> None:
        """Bring the service down and release it; its logger after it (now, or when told)."""
        self.post(em.Stop(force))
        if logs_too:
            self.post(em.LetLogsStop())

    def let_logs_stop(self) -> None:
        """The logger may drain and stop once the service is down (svscan: all services are)."""
        self.post(em.LetLogsStop())

    def vanish(self) -> None:
        """The directory is gone: stop it, quietly (reaching it is expected to fail now)."""
        self.post(em.Vanish())

    @property
    def stopping(self) -> bool:
        return self.state.stopping

    @property
    def service_down(self) -> bool:
        """Whether the service is down for good (its logger may still run)."""
        return em.service_down(self.state)

    def rename(self, name: str) -> None:
        """The directory was renamed: use the new name from now on."""
        self.name = name
        if self.main is not None:
            self.main.path = name
        if self.log is not None:
            self.log.path = os.path.join(name, "log")

    def dump_lines(self, now: float) -> list[str]:
        """Its services' lines in the SIGUSR1 dump: state, then tree (`supervise.dump`)."""
        lines: list[str] = []
        for service in (self.main, self.log):
            if service is not None:
                lines.append(dump.service_line(service.path, service.state, service.starts, now))
                lines += dump.tree_lines(service.path, service.state.tree)
        return lines

    def descriptors(self) -> dict[int, str]:
        """The descriptors it holds (its services' and its log pipe), by what each is for."""
        held: dict[int, str] = {}
        for service in (self.main, self.log):
            if service is not None:
                held.update(service.descriptors())
        for fd, end in ((self.log_in, "read"), (self.log_out, "write")):
            if fd is not None:
                held[fd] = f"{self.name}: log pipe, {end} end"
        return held

    def settle(self) -> None:
        """Apply every input its services received (before a handover)."""
        for service in (self.main, self.log):
            if service is not None:
                service.settle()

    # --- the task -----------------------------------------------------------------------

    async def run(self) -> None:
        """Feed the machine until the entry is released; then close the pipe."""
        try:
            if self.log_in is None:
                await self._loop()
            else:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    await self._loop()
        except BaseException as error:
            if self.host.on_fault is None or guard.orderly(error):
                raise
            self.host.on_fault(error, self.name)
            if self.host.abandon is not None:  # hold the pipe until re-executed
                await self.host.abandon.wait()
        finally:
            self._nursery = None
            fsio.close_quietly(self.log_in, self.log_out)
            self.log_in = self.log_out = None

    async def _loop(self) -> None:
        self.post(em.Start())
        while self.state.phase is not em.Phase.RELEASED:
            service, self._inline = self._inline, None
            if service is not None:
                await self._supervise(service, em.ServiceReleased())
            else:
                await self._wait()

    async def _wait(self) -> None:
        """Until an input is posted, or the next timer is due (then feed it)."""
        deadline = min(self._timers.values()) if self._timers else math.inf
        self._wakeup = trio.Event()
        if deadline == math.inf:  # the usual idle wait: no cancel scope to hold meanwhile
            await self._wakeup.wait()
        else:
            with trio.move_on_at(deadline):
                await self._wakeup.wait()
        self._wakeup = None
        now = trio.current_time()
        for timer, when in list((self._timers or {}).items()):
            if when <= now and self._timers is not None:
                self._timers.pop(timer, None)
                self.post(em.TimerDue(timer))

    def post(self, event: em.Input) -> None:
        """Feed `event`, and whatever its actions lead to, in order.

        An input posted while one is being fed (an action's callback tells
        the daemon, which tells this entry) waits for it to be done.
        """
        if self._pending is not None:
            self._pending.append(event)
            return
        self._pending = [event]
        try:
            while self._pending:
                transition = em.step(self.state, self._pending.pop(0))
                self.state = transition.state
                for action in transition.actions:
                    self._do(action)
        finally:
            self._pending = None
        if self._wakeup is not None:
            self._wakeup.set()

    async def _supervise(self, service: Service, released: em.Input) -> None:
        await service.run()
        if service.refused and isinstance(released, em.ServiceReleased):
            self.refused = True
        self.post(released)

    async def _report_settled(self, service: Service) -> None:
        await service.settled.wait()
        self.post(em.LogSettled())

    # --- actions -------------------------------------------------------------------------

    def _do(self, action: em.Action) -> None:
        match action:
            case em.StartService(handed):
                self._start(self.main if handed and self.main else self._new_main(),
                            em.ServiceReleased())
            case em.StartLogger(handed, settle):
                log = self.log if handed and self.log else self._new_log()
                self._start(log, em.LogReleased())
                if settle and self._nursery is not None:
                    self._nursery.start_soon(self._report_settled, log)
            case em.ShutdownService(force):
                if self.main is not None:
                    self.main.shutdown(force)
            case em.ShutdownLogger(force):
                if self.log is not None:
                    self.log.shutdown(force)
            case em.ReleaseLoggerWhenDown():
                if self.log is not None:
                    self.log.release_when_down()
            case em.CloseWriteEnd():
                fsio.close_quietly(self.log_out)
                self.log_out = None
            case em.Mute():
                for service in (self.main, self.log):
                    if service is not None:
                        service.mute()
            case em.ServiceDown():
                if self.host.on_service_down is not None:
                    self.host.on_service_down(self)
            case em.SetTimer(timer, delay):
                if self._timers is None:
                    self._timers = {}
                self._timers[timer] = trio.current_time() + delay
            case em.CancelTimer(timer):
                if self._timers is not None:
                    self._timers.pop(timer, None)

    def _start(self, service: Service, released: em.Input) -> None:
        """Run `service` in a task of the nursery, or (no logger) in this very task."""
        if self._nursery is not None:
            self._nursery.start_soon(self._supervise, service, released)
        else:
            self._inline = service

    def _new_main(self) -> Service:
        self.main = self.host.factory(
            self.name, self.host.reaper, self.host.readers, stdout=self.log_out,
            on_final=self._final, on_fault=self.host.on_fault,
        )
        return self.main

    def _new_log(self) -> Service:
        self.log = self.host.factory(
            os.path.join(self.name, "log"), self.host.reaper, self.host.readers,
            stdin=self.log_in, on_fault=self.host.on_fault,
        )
        return self.log

    def _final(self, code: int) -> None:
        if self.host.on_final is not None:
            self.host.on_final(self, code)


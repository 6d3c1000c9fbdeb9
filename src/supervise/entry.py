"""One entry of svscan's tree: a service, its logger if it has ``log/``, and the pipe between.

The pipe is made when the entry is first seen and both ends stay with the
entry for its whole life, so either side can die and be restarted without a
line lost: whatever the service wrote waits in the pipe for the next logger.
The logger starts before the service and stops after it; it stops by
draining: the entry closes its write end, the logger reads to end of file
and exits on its own, and only a logger that outlives `LOG_GRACE` gets its
down-signal.

A directory released by ``x`` (or refused because another supervisor holds
its lock) is taken again after `RETAKE_DELAY`, as daemontools' svscan
restarts an exited ``supervise`` at its next scan.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import attrs
import trio

from supervise import adoption, fsio
from supervise.handover import EntryHandover
from supervise.readers import Readers
from supervise.reaper import Reaper
from supervise.scan import Key
from supervise.service import Service

#: Seconds before a released directory is taken again (daemontools' scan interval).
RETAKE_DELAY = 5.0
#: Seconds a logger may take to drain its pipe and exit after its service is down.
LOG_GRACE = 10.0

Finals = Callable[["Entry", int], None]
#: An event of the logger's, made only for an entry that has one (see `Entry.log_in`).
_LOG_EVENT: Any = attrs.Factory(
    lambda entry: None if entry.log_in is None else trio.Event(), takes_self=True
)


@attrs.define(eq=False)
class Entry:
    """A service directory of the scan root, supervised with its logger."""

    name: str
    key: Key
    reaper: Reaper
    readers: Readers
    on_final: Finals
    log_in: int | None = None  # the pipe's read end: the logger's stdin
    log_out: int | None = None  # the pipe's write end: the service's stdout
    main: Service | None = None
    log: Service | None = None
    stopping: bool = False
    main_done: trio.Event = attrs.field(factory=trio.Event)
    _stop_main: trio.Event = attrs.field(factory=trio.Event)
    # Only an entry with a logger has these (a thousand unused events cost a megabyte).
    _logs_may_stop: trio.Event | None = attrs.field(default=_LOG_EVENT)
    _stop_log: trio.Event | None = attrs.field(default=_LOG_EVENT)
    _log_gone: trio.Event | None = attrs.field(default=_LOG_EVENT)

    @classmethod
    def create(
        cls, name: str, key: Key, reaper: Reaper, readers: Readers, on_final: Finals, log: bool
    ) -> Entry:
        """A new entry; with a log pipe if `log` (the pipe is close-on-exec for everyone else).

        The pipe of a killed svscan is taken back when its logger or service still runs.
        """
        if not log:
            return cls(name, key, reaper, readers, on_final)
        read_end, write_end = adoption.recover_pipe(name) or os.pipe2(os.O_CLOEXEC)
        return cls(name, key, reaper, readers, on_final, read_end, write_end)

    # --- life ----------------------------------------------------------------------

    async def run(self) -> None:
        """Logger first, then the service; to stop, the service, then (when told) the logger.

        Without a logger, the service runs in this very task: no nursery to hold.
        """
        try:
            if self._logs_may_stop is None:
                await self._keep_main()
                return
            async with trio.open_nursery() as nursery:
                log = self.log or self._new_log()
                nursery.start_soon(self._keep_log, log)
                await log.settled.wait()
                await self._keep_main()
                self.main_done.set()
                await self._logs_may_stop.wait()
                await self._drain_log()
        finally:
            self.main_done.set()
            fsio.close_quietly(self.log_in, self.log_out)
            self.log_in = self.log_out = None

    def stop(self, force: bool = False, logs_too: bool = True) -> None:
        """Bring the service down and release it; its logger after it (now, or when told)."""
        self.stopping = True
        self._stop_main.set()
        if self.main is not None:
            self.main.shutdown(force)
        if force and self.log is not None:
            self.log.shutdown(force)
        if logs_too:
            self.let_logs_stop()

    def let_logs_stop(self) -> None:
        """The logger may drain and stop once the service is down (svscan: all services are)."""
        if self._logs_may_stop is not None:
            self._logs_may_stop.set()

    def vanish(self) -> None:
        """The directory is gone: stop it, quietly (reaching it is expected to fail now)."""
        for service in (self.main, self.log):
            if service is not None:
                service.mute()
        self.stop()

    def rename(self, name: str) -> None:
        """The directory was renamed: use the new name from now on."""
        self.name = name
        if self.main is not None:
            self.main.path = name
        if self.log is not None:
            self.log.path = os.path.join(name, "log")

    def settle(self) -> None:
        for service in (self.main, self.log):
            if service is not None:
                service.settle()

    # --- the two services ------------------------------------------------------------

    def _new_main(self) -> Service:
        self.main = Service(
            self.name, self.reaper, self.readers, stdout=self.log_out, on_final=self._final
        )
        return self.main

    def _new_log(self) -> Service:
        self.log = Service(
            os.path.join(self.name, "log"), self.reaper, self.readers, stdin=self.log_in
        )
        return self.log

    def _final(self, code: int) -> None:
        self.on_final(self, code)

    async def _keep_main(self) -> None:
        await self._keep(self.main or self._new_main(), self._stop_main, self._new_main)

    async def _keep_log(self, service: Service) -> None:
        assert self._stop_log is not None and self._log_gone is not None
        try:
            await self._keep(service, self._stop_log, self._new_log)
        finally:
            self._log_gone.set()

    async def _keep(
        self, service: Service, stop: trio.Event, renew: Callable[[], Service]
    ) -> None:
        """Supervise `service`; after a release, take the directory again unless stopped."""
        while True:
            await service.run()
            if not await self._retake_later(stop):
                return
            service = renew()

    async def _retake_later(self, stop: trio.Event) -> bool:
        """After a release: wait `RETAKE_DELAY` unless stopped; whether to take it again."""
        with trio.move_on_after(RETAKE_DELAY):
            await stop.wait()
        return not stop.is_set()

    async def _drain_log(self) -> None:
        """Close our write end so the logger reads to EOF and exits; its down-signal if it lingers.

        Returns as soon as the logger is gone: `LOG_GRACE` is an upper bound, not a sleep.
        """
        assert self._stop_log is not None and self._log_gone is not None
        self._stop_log.set()
        fsio.close_quietly(self.log_out)
        self.log_out = None
        if self.log is not None:
            self.log.release_when_down()
        with trio.move_on_after(LOG_GRACE):
            await self._log_gone.wait()
        if self.log is not None and self.log.running:
            self.log.shutdown()

    # --- handover ------------------------------------------------------------------------

    def export(self) -> EntryHandover:
        """This entry as a re-executed svscan needs it (see `supervise.handover`)."""
        pipe = None
        if self.log_in is not None and self.log_out is not None:
            pipe = (self.log_in, self.log_out)
        return EntryHandover(
            self.name, self.key, pipe,
            None if self.main is None else self.main.export(),
            None if self.log is None else self.log.export(),
        )

    @classmethod
    def resume(
        cls, handed: EntryHandover, reaper: Reaper, readers: Readers, on_final: Finals
    ) -> Entry:
        """The entry a previous svscan exported, with its services resumed."""
        read_end, write_end = handed.pipe or (None, None)
        entry = cls(handed.name, handed.key, reaper, readers, on_final, read_end, write_end)
        if handed.main is not None:
            entry._new_main().resume(handed.main)
        if handed.log is not None and read_end is not None:
            entry._new_log().resume(handed.log)
        return entry

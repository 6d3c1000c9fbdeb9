"""The daemon of both commands: svscan over a scanned tree, supervise over fixed directories.

One nursery holds the reaper, the readers (one task reads every control
FIFO and readiness pipe), the signal watcher and, for svscan, the scanner;
a second one holds one task per entry (a service, its logger, their pipe:
see `supervise.entry` and the life cycle in `supervise.entry_machine`).

svscan watches its root with inotify, so a new directory is started within
moments and an idle daemon never wakes up; SIGALRM rescans at once, and
where inotify is missing a rescan every `FALLBACK_SCAN` seconds stands in.
``supervise DIR...`` is the same daemon over the directories it was given
(`Scanner.fixed`): no scan, no log pipe, a released directory is not taken
again, and the daemon exits once every one is released (111 if one was
refused), as daemontools' supervise does.

Both answer the same signals. Shutdown (SIGTERM, SIGINT, SIGPWR, or, in
svscan, an ``essential`` service gone for good): every service down in
parallel, then, once all are down, every logger drains its pipe and exits;
the daemon exits as soon as the last one is gone. A second signal kills
whatever still runs. SIGHUP re-executes the daemon, handing it every entry
(same processes, nothing restarted); SIGUSR1 writes the state to stderr.

Self-healing: every task is guarded (`supervise.guard`). A fault that
escapes a task (a bug, not an orderly end) is said in one ``alert`` line and
re-executes the daemon through the SIGHUP path (`Healer.fault`), as decided by
`supervise.healing`: the signal task leaves its receiver and execs, with
every entry handed over, the faulted service marked so that the new image
redoes what it may have left half done (`machine.recovered`). A state that
cannot be exported is not handed over: the new image takes every service
back by its pid, as after ``kill -9``. Meanwhile the faulted task holds what
it has (a service's task waits, its directory still open; the reaper,
readers and scan tasks start again). An exec that fails is retried, backing
off; too many faults stop the re-exec loop for a pause, the daemon going on
with what still works. Faults the guards cannot catch end `trio.run`:
`supervise.keeper` takes over from there.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import attrs
import trio

from cmdline import exits
from supervise import (
    cgroups,
    dump,
    guard,
    handover,
    inject,
    inotify,
    process,
    reexec,
    say,
    scan,
)
from supervise.entry import Entry, Host
from supervise.errtext import describe
from supervise.healer import Healer
from supervise.readers import Readers
from supervise.reaper import Reaper
from supervise.say import Faults

#: Seconds between rescans when the root cannot be watched with inotify (daemontools' 5 s).
FALLBACK_SCAN = 5.0
#: The root events that may mean a service appeared, vanished or was renamed.
ROOT_EVENTS = (
    inotify.IN_CREATE | inotify.IN_DELETE | inotify.IN_MOVED_FROM | inotify.IN_MOVED_TO
    | inotify.IN_ATTRIB | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF
)
#: A marker file: when this service goes down for good, the whole tree shuts down.
ESSENTIAL = "essential"
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGPWR)


@attrs.define(eq=False)
class Scanner:
    """The daemon: scans `root` (already the working directory), supervises every entry.

    With `fixed` (``supervise DIR...``), supervises those directories instead,
    and nothing else; `root` is then only the name of the working directory.
    """

    root: str
    reexec_argv: list[str]
    fixed: list[str] | None = None
    reaper: Reaper = attrs.field(factory=Reaper)
    readers: Readers = attrs.field(factory=Readers)
    entries: dict[scan.Key, Entry] = attrs.field(factory=dict)
    exit_code: int = 0
    stopping: bool = False
    started: float = attrs.field(factory=time.time)
    healer: Healer = attrs.field(factory=Healer)
    #: What a previous image handed over, or the first pass started: taken by `run`.
    handed: handover.DaemonHandover | None = None
    _faults: Faults = attrs.field(factory=Faults)
    _nursery: trio.Nursery | None = None
    _stop: trio.Event = attrs.field(factory=trio.Event)
    _inotify_fd: int | None = None
    _unreadable: set[str] = attrs.field(factory=set)
    _host: Host = attrs.field(init=False)
    # Shutting down, loggers stop once every service is down: counted, not searched for
    # (at 1000 entries, a search per service gone would be a million steps).
    _services_up: int = 0
    _logs_let_go: bool = False

    @_host.default
    def _make_host(self) -> Host:
        return Host(
            self.reaper, self.readers, on_final=self._final,
            on_service_down=self._service_down, retake=self.fixed is None,
            on_fault=self.healer.fault, abandon=self.healer.abandon,
        )

    async def run(self) -> int:
        """Supervise the tree until shut down (svscan) or released (supervise); the exit code.

        It returns with the daemon's signals (`process.HELD_SIGNALS`) blocked from the
        moment its task tree ends: a stop signal then (a second one) would otherwise kill
        it before its cgroups are removed. The process exits right after (`exit_now`)."""
        self.reaper.cgroups, tracking = cgroups.discover()
        fresh = self._resume()
        if fresh:
            say.line("info", tracking)  # once: a re-executed image carries on silently
        async with trio.open_nursery() as daemon:
            await daemon.start(self.healer.guarded, "the reaper", self.reaper.run)
            await daemon.start(self.healer.guarded, "the control reader", self.readers.run)
            await daemon.start(self._signals)
            async with trio.open_nursery() as entries:
                self._nursery = entries
                for entry in list(self.entries.values()):
                    self._start_entry(entry)
                if self.fixed is None:
                    entries.start_soon(self._stop.wait)  # open until shut down, even if empty
                    daemon.start_soon(self.healer.guarded, "the scan", self._watch)
                elif fresh:
                    for index, path in enumerate(self.fixed):
                        if (0, index) not in self.entries:
                            self._add((0, index), path, log=False)
            # Ending: a signal now (a second stop) must not cut the ending short. Held,
            # it stays pending, and is dropped at the exit (see `main`'s callers).
            signal.pthread_sigmask(signal.SIG_BLOCK, process.HELD_SIGNALS)
            daemon.cancel_scope.cancel()
        if self.reaper.cgroups is not None:
            for where in self.reaper.cgroups.close():
                say.line("info", f"processes are left in {where}: it is kept")
        if self._inotify_fd is not None:
            os.close(self._inotify_fd)
        return self.exit_code

    # --- scanning ----------------------------------------------------------------------

    def rescan(self) -> None:
        """Start what is new, stop what is gone, follow renames."""
        if self.stopping or self._nursery is None or self.fixed is not None:
            return
        inject.point("scan")
        unreadable: dict[str, OSError] = {}
        try:
            found = scan.list_root(".", unreadable)
        except OSError as error:
            self._faults.report("scan", f"unable to read {self.root}: {describe(error)}")
            return
        self._faults.clear("scan")
        self._say_unreadable(unreadable)
        if found:
            self._faults.clear("empty")
        else:
            self._faults.report("empty", f"{self.root} has no service directories")
        known = {key: entry.name for key, entry in self.entries.items() if not entry.stopping}
        changes = scan.changes(known, found)
        for key in changes.removed:
            say.line("info", f"{self.entries[key].name} is gone: stopping it")
            self.entries[key].vanish()
        for key, name in changes.renamed.items():
            self.entries[key].rename(name)
        for key, name in changes.added.items():
            if key not in self.entries:
                self._add(key, name, scan.has_log(name))

    def _say_unreadable(self, unreadable: dict[str, OSError]) -> None:
        """One line per root entry that cannot be stat'ed, as daemontools' svscan says it."""
        for name, error in unreadable.items():
            self._faults.report(f"stat {name}", f"unable to stat {name}: {describe(error)}")
        for name in self._unreadable - unreadable.keys():
            self._faults.clear(f"stat {name}")
        self._unreadable = set(unreadable)

    def _add(self, key: scan.Key, name: str, log: bool) -> None:
        assert self._nursery is not None
        needed = process.descriptors_needed(len(self.entries) + 1)
        if process.raise_descriptor_limit(needed) < needed:
            self._faults.report(  # the same text each time: said once
                "nofile", "the tree needs more descriptors than RLIMIT_NOFILE allows (its "
                "hard limit cannot be raised): services past the limit cannot be supervised",
            )
        try:
            entry = Entry.create(name, key, self._host, log)
        except OSError as error:
            text = f"unable to create a log pipe for {name}: {describe(error)}"
            self._faults.report("pipe", text)
            return
        self._faults.clear("pipe")
        self._register(entry)
        self._start_entry(entry)

    def _resume(self) -> bool:
        """Take on the entries `handed` over; whether this image starts afresh (not one a
        SIGHUP executed). The records are dropped once read: garbage from then on."""
        handed, self.handed = self.handed, None
        if handed is None:
            return True
        self.exit_code = handed.exit_code
        for data in handed.entries:
            self._register(Entry.resume(data, self._host))
        return handed.fresh

    def _register(self, entry: Entry) -> None:
        self.entries[entry.key] = entry
        self._services_up += 1

    def _start_entry(self, entry: Entry) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(self._run_entry, entry)

    async def _run_entry(self, entry: Entry) -> None:
        """Run `entry` to its end. A fault in it is the daemon's (`Healer.fault`); the entry's task
        is not started again: its services hold what they have (see `Entry.run`). No
        `Healer.guarded` wrapper: at 1000 entries, one coroutine and one partial fewer each is
        about 0.5 MiB."""
        try:
            try:
                await entry.run()
            finally:
                if self.entries.get(entry.key) is entry:
                    del self.entries[entry.key]
                if not entry.service_down:  # its task failed before it could say so
                    self._service_down(entry)
                if entry.refused and self.fixed is not None:
                    self.exit_code = exits.TEMPORARY
                if entry.stopping and not self.stopping:
                    self.rescan()  # the same directory may be back already
        except BaseException as error:
            self.healer.caught(error, entry.name)

    async def _watch(self, *, task_status: object = None) -> None:
        """Rescan when the root changes (inotify), or every `FALLBACK_SCAN` s without it."""
        if self._inotify_fd is not None:  # started again after a fault
            os.close(self._inotify_fd)
        fd = inotify.init()
        if fd is not None and not inotify.add_watch(fd, ".", ROOT_EVENTS):
            os.close(fd)
            fd = None
        self._inotify_fd = fd
        if fd is None:
            say.warning(
                f"unable to watch {self.root} with inotify: "
                f"rescanning every {FALLBACK_SCAN:g} seconds"
            )
        self.rescan()
        while True:
            if fd is None:
                await trio.sleep(FALLBACK_SCAN)
            else:
                await trio.lowlevel.wait_readable(fd)
                inotify.drain(fd)
            self.rescan()

    # --- stopping ------------------------------------------------------------------------

    def shutdown(self, force: bool = False) -> None:
        """Bring every service down; the loggers follow once all services are down."""
        if force:
            self.healer.abandon.set()
        self.stopping = True
        for entry in list(self.entries.values()):
            entry.stop(force, logs_too=force)
        self._stop.set()
        self._logs_may_stop_if_all_down()

    def _service_down(self, entry: Entry) -> None:
        """An entry's service is down for good (each entry says so once)."""
        self._services_up -= 1
        self._logs_may_stop_if_all_down()

    def _logs_may_stop_if_all_down(self) -> None:
        """Shutting down: once every service is down, every logger drains and exits."""
        if self.stopping and self._services_up <= 0 and not self._logs_let_go:
            self._logs_let_go = True
            for entry in list(self.entries.values()):
                entry.let_logs_stop()

    def _final(self, entry: Entry, code: int) -> None:
        """A service went down for good: if it is essential, the whole tree goes down."""
        if self.fixed is not None or self.stopping:
            return  # supervise DIR knows no essential service (daemontools' does not either)
        if not os.path.exists(os.path.join(entry.name, ESSENTIAL)):
            return
        say.line("info", f"essential service {entry.name} is down for good (exit {code}): "
                 "shutting down")
        self.exit_code = code
        self.shutdown()

    # --- signals ---------------------------------------------------------------------------

    async def _signals(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                       ) -> None:
        """Answer the daemon's signals; leave the receiver to re-execute (`Healer.hold_signals`)
        on SIGHUP, or when a fault asks for it (`Healer.fault` moves `Healer.listening`'s
        deadline)."""
        wanted = (signal.SIGHUP, signal.SIGUSR1, signal.SIGALRM, *_STOP_SIGNALS)
        while True:
            with trio.open_signal_receiver(*wanted) as signals:
                task_status.started()
                task_status = trio.TASK_STATUS_IGNORED
                reexec.release_signals()  # held by a previous daemon or a failed re-exec
                with self.healer.listening():
                    async for signum in signals:
                        if self._answer(signum):
                            break
                self.healer.done_listening()
                await self.healer.hold_signals()
            # Out of the receiver: the signals it had not handed us yet are pending, blocked.
            self.reexec()

    def _answer(self, signum: int) -> bool:
        """Act on one signal; True for a SIGHUP to re-execute on. A fault here is a fault."""
        try:
            if signum in _STOP_SIGNALS:
                self.shutdown(force=self.stopping)
            elif signum == signal.SIGALRM:
                self.rescan()
            elif signum == signal.SIGUSR1:
                self.dump()
            elif signum == signal.SIGHUP:
                return not self.stopping
        except BaseException as error:
            if guard.orderly(error):
                raise
            self.healer.fault(error, f"answering signal {signum}")
        return False

    # --- self-healing ----------------------------------------------------------------------

    def reexec(self) -> None:
        """Re-execute with every entry handed over (`Healer.reexec`): signals held."""
        self.healer.reexec(self.reexec_argv, self._export, self.stopping)

    def _export(self) -> tuple[bytes | None, list[int]]:
        """The state to hand over and the descriptors it names; (None, []) if it cannot be
        exported (said): the new image then takes back every service by its pid."""
        try:
            inject.point("export")
            for entry in self.entries.values():
                entry.settle()
            exported = handover.DaemonHandover(
                tuple(entry.export() for entry in self.entries.values()), self.exit_code
            )
            return handover.encode(exported), exported.descriptors()
        except BaseException as error:
            if guard.orderly(error):
                raise
            say.line("alert", f"unable to hand the state over: {guard.describe(error)}: "
                     "the new image takes back every running service by its pid")
            return None, []

    def dump(self) -> None:
        """Write the whole state to stderr (SIGUSR1)."""
        now = time.time()
        lines = [
            f"pid {os.getpid()}, up {int(now - self.started)} seconds, {len(self.entries)} "
            f"services, {self.reaper.children} children"
        ]
        known: dict[int, str] = {}
        for entry in sorted(self.entries.values(), key=lambda each: each.name):
            lines += entry.dump_lines(now)
            known.update(entry.descriptors())
        if self._inotify_fd is not None:
            known[self._inotify_fd] = f"inotify watch on {self.root}"
        known[self.readers.fileno()] = "epoll set of every control FIFO and readiness pipe"
        lines += dump.descriptor_lines(known)
        for text in lines:
            say.line("state", text)
        sys.stderr.flush()

"""The first pass: start the services before the daemon loads trio, then hand them over.

Python starts in about 15 ms; trio, attrs and the state machine take ten
times that. A C supervisor has its services running by then. So each daemon
first takes, with the standard library only, every directory whose start is
plain: nothing to take back (no pid in the status left behind), no ``down``
file, no readiness pipe, the lock free, and for svscan the logger's
directory as plain as its service's. For those it does what the daemon would
do at start, in the daemon's order: ``supervise/``, lock, ``control``,
``ok``; the logger before its service, joined by the log pipe; ./run
started; the first status written; ``ok`` opened. Then the trio daemon
takes them over through the path a SIGHUP re-exec uses (`supervise.handover`,
same records), and takes every other directory itself, as if the first pass
had not been. Control bytes written meanwhile wait in the FIFO and are
applied in order.

Nothing here decides what a service does: the state handed over is what
`machine.initial` and `machine.Spawned` give for a plain start (a unit test
holds the two together), and anything not plain is left to the machine.
"""

from __future__ import annotations

import os
import signal
import time

from supervise import (
    cgroups,
    directory,
    fsio,
    layout,
    process,
    record,
    scan,
    settings,
    spawn,
    status,
    tree,
)
from supervise.tai import Tai64n

TYPE_CHECKING = False  # typing costs the first pass its import time
if TYPE_CHECKING:
    from collections.abc import Callable

    Clock = Callable[[], float]

#: A readiness pipe, a ``down`` file: the daemon's to handle.
NOT_PLAIN = ("down", "notification-fd")


class Taken:
    """One directory set up and its ./run started: what the handover says about it."""

    __slots__ = ("fds", "identity", "pid", "tree", "written")

    def __init__(self, fds: directory.Descriptors, identity: tuple[int, int]) -> None:
        self.fds = fds
        self.identity = identity
        self.pid = 0
        self.tree = ""  # where its processes are followed (`machine.Spawned.tree`)
        self.written = False

    def plain(self, now: float) -> dict[str, object]:
        """The service as `handover.decode_service` reads it.

        A first status that could not be written is handed over as a failed
        status write (`machine.StatusWritten(ok=False)`), due at once: the
        daemon writes it again and says what is wrong, as it says it for any
        status write.
        """
        state = started_state(self.pid, now, self.tree)
        if not self.written:
            state["write_failures"] = 1
        return {
            "fds": self.fds.numbers(),
            "state": state,
            "timers": {} if self.written else {"status": 0.0},
            "ready_fd": None,
            "identity": list(self.identity),
        }


def started_state(pid: int, now: float, followed: str = "") -> dict[str, object]:
    """A ./run started at `now` as the first start, its tree followed as `followed` says
    (`machine.Spawned.tree`), in `handover.encode_state`'s form (what `machine.initial`
    then `machine.Spawned` make; fields left out take their defaults)."""
    state: dict[str, object] = {"phase": "RUN", "want": "UP", "pid": pid, "stamp": now,
                                "last_start": now, "starts": 1}
    if followed:
        state["tree"] = followed
    return state


def begin(fixed: list[str] | None = None) -> dict[str, object]:
    """Hold the daemon's signals (it unblocks them once it listens), keep our descriptors
    from the children, and start what is plain: `first_pass`."""
    signal.pthread_sigmask(signal.SIG_BLOCK, process.HELD_SIGNALS)
    fsio.close_inherited_fds()
    groups, _ = cgroups.discover()  # the daemon finds the same again, and says which
    return first_pass(spawn.Environment(os.environb), fixed, groups)


def first_pass(
    environment: spawn.Environment, fixed: list[str] | None = None,
    groups: cgroups.Cgroups | None = None, clock: Clock = time.time,
) -> dict[str, object]:
    """Start what is plain in the working directory (svscan) or in `fixed` (supervise).

    Returns the handover, in `handover.decode_plain`'s form, marked fresh: the
    daemon still takes every directory not in it. It takes no more than the
    descriptor limit leaves room for beside the daemon's own (the daemon's
    budget, `process.descriptors_needed`), so trio can start. Each ./run is stamped
    with `clock` read right after its spawn: the stamp is what a daemon started after a
    ``kill -9`` checks the process's start time against (`adoption.TOLERANCE`), and at
    1,000 services the pass itself can take seconds.
    """
    entries: list[dict[str, object]] = []
    if fixed is not None:
        candidates = [((0, index), path, False) for index, path in enumerate(fixed)]
    else:
        try:
            found = scan.list_root(".")
        except OSError:
            found = {}
        candidates = [(key, name, scan.has_log(name)) for key, name in found.items()]
    limit = process.raise_descriptor_limit(process.descriptors_needed(len(candidates)))
    for key, name, log in candidates:
        if process.descriptors_needed(len(entries) + 1) > limit:
            break  # the daemon needs descriptors of its own; it says what does not fit
        entry = _start_entry(environment, key, name, log, clock, groups)
        if entry is not None:
            entries.append(entry)
    return {"entries": entries, "fresh": True}


def _start_entry(
    environment: spawn.Environment, key: tuple[int, int], name: str, log: bool,
    clock: Clock, groups: cgroups.Cgroups | None = None,
) -> dict[str, object] | None:
    """Take `name` (and its ``log/``) and start them; None, with nothing held, if not plain.

    A directory whose ./run could not be started is released again, for the
    daemon to take and retry as it retries any spawn.
    """
    paths = [os.path.join(name, "log"), name] if log else [name]
    taken: list[Taken] = []
    pipe: tuple[int, int] | None = None
    try:
        for path in paths:
            one = _take(path)
            if one is None:
                break
            taken.append(one)
        else:
            if log:
                pipe = os.pipe2(os.O_CLOEXEC)
                _spawn(environment, paths[0], taken[0], {0: pipe[0]}, groups)
                _spawn(environment, paths[1], taken[1], {1: pipe[1]}, groups)
            else:
                _spawn(environment, paths[0], taken[0], {}, groups)
    except (OSError, directory.SetupError):
        pass
    now = clock()
    services: list[dict[str, object] | None] = []
    for path, one in zip(paths, taken, strict=False):  # taken stops at a directory not plain
        if one.pid:
            _announce(path, one, now)
            services.append(one.plain(now))
        else:
            one.fds.close()
            services.append(None)
    if not any(services):
        if pipe is not None:
            fsio.close_quietly(*pipe)
        return None
    return {
        "name": name, "key": list(key), "pipe": None if pipe is None else list(pipe),
        "main": services[-1], "log": services[0] if log else None,
    }


def _take(path: str) -> Taken | None:
    """Lock and set up `path` if its start is plain; None (nothing held) if not."""
    try:
        return _take_plain(path)
    except (OSError, directory.SetupError, layout.StatusFormatError):
        return None


def _take_plain(path: str) -> Taken | None:
    with directory.opened(path) as (service_fd, supervise_fd):
        if any(settings.exists(service_fd, name) for name in NOT_PLAIN):
            return None
        if not settings.is_program(service_fd, "run"):
            return None
        left = fsio.read_small(supervise_fd, "status")
        if left is not None and record.unpack(left).pid:
            return None  # a ./run to take back, or a status to reject: the daemon's
        try:
            fds = directory.take(path, supervise_fd)
        except fsio.LockHeld:
            return None
        return Taken(fds, fsio.identity(service_fd))


def _spawn(
    environment: spawn.Environment, path: str, taken: Taken, fds: dict[int, int],
    groups: cgroups.Cgroups | None,
) -> None:
    """Start ./run of `path`, in its cgroup when there are cgroups (as `Reaper.spawn`)."""
    service_fd = fsio.open_dir(path)
    try:
        setsid = not settings.exists(service_fd, "nosetsid")
        where = None if groups is None else groups.for_service(path, taken.identity[1])
        if groups is None or where is None:
            taken.pid = spawn.spawn(service_fd, "./run", [], environment, setsid=setsid, fds=fds)
        else:
            with groups.inside(where) as entered:
                taken.pid = spawn.spawn(
                    service_fd, "./run", [], environment, setsid=setsid, fds=fds
                )
            where = where if entered else None
        followed = (tree.CGROUP, where) if where else (tree.SESSION, taken.pid) if setsid else None
        taken.tree = "" if followed is None else tree.text(*followed).decode().rstrip("\n")
    finally:
        os.close(service_fd)


def _announce(path: str, taken: Taken, now: float) -> None:
    """Write the first status, then open ``ok``: a client that sees the supervisor reads
    our status. The files are `machine.status_files` of `started_state` (a test holds them
    together). As the daemon does, ``ok`` is opened even if a write failed."""
    shown = status.Status(
        Tai64n.from_unix(now), taken.pid, want=status.Want.UP, run_state=status.RunState.RUN
    )
    try:
        with directory.opened(path) as (_service_fd, supervise_fd):
            taken.written = _write_first_status(supervise_fd, taken, shown)
            directory.open_ok(path, taken.fds, supervise_fd)
    except (OSError, directory.SetupError):
        pass  # the daemon writes the status, and opens ok, on its first step


def _write_first_status(supervise_fd: int, taken: Taken, shown: status.Status) -> bool:
    """Whether every file was written (the daemon says which one was not)."""
    files = [("pid", status.pid_text(taken.pid)), ("stat", status.stat_text(shown))]
    if taken.tree:
        files.append((tree.FILE, taken.tree.encode() + b"\n"))
    try:
        for name, data in (*files, ("status", record.pack(shown))):
            fsio.replace_file(supervise_fd, name, data)
    except OSError:
        return False
    return True

"""svscan next to PID 1, for real: as init of a PID namespace, and as a subreaper (``-s``).

As PID 1 every orphan of the tree becomes svscan's child. The reaper must
collect each of them (no zombie may pile up) without ever taking the exit
status of a service it supervises: a service keeps its pid, and one that exits
7 has its ./finish told ``7 0``. SIGTERM from outside the namespace brings the
tree down in order (the service, then its logger, which still gets the
service's last line) and the daemon, hence ``unshare``, exits 0.

The namespace comes from ``unshare --pid --fork --mount-proc``: unshare stays
outside as the parent, its child is PID 1 inside and is our svscan. unshare
neither forwards SIGTERM nor dies of it, so every signal goes to the host pid
of the namespaced svscan directly. Processes inside are found from the host as
descendants of unshare; a pid is only trusted together with its start time
(pids wrap quickly on a busy machine).

Outside a namespace, ``-s`` makes svscan the subreaper of its tree: the orphan
of a service is reparented to svscan and reaped by it. Without ``-s`` it goes
to the nearest subreaper above, pytest itself (see conftest).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from ci_guard import unavailable
from supervise.status import RunState
from support import (
    PATIENCE,
    SVSCAN,
    Daemon,
    cmdline,
    eventually,
    make_service,
    read_status,
    started,
)

UNSHARE = "/usr/bin/unshare"
NAMESPACE = [UNSHARE, "--pid", "--fork", "--mount-proc"]

#: A service that leaves 12 orphans behind, one every 0.25 s, each living 1.5 s, then settles.
ORPHANS_RUN = """\
i=0
while [ $i -lt 12 ]; do
  (sleep 1.5 &)
  sleep 0.25
  i=$((i + 1))
done
echo > spawned
exec sleep 1000"""
ORPHAN_CMDLINE = "sleep 1.5"

#: Exits 7 once the test creates ./go (then runs for good): its ./finish must hear ``7 0``.
SEVEN_RUN = """\
if [ -e ran ]; then exec sleep 1000; fi
echo > ran
while [ ! -e go ]; do sleep 0.1; done
exit 7"""

#: Leaves orphans behind for as long as it runs.
ORPHANS_FOREVER_RUN = "while :; do (sleep 0.2 &); sleep 0.3; done"

#: Says a first line, and a last one when told TERM; both must reach its logger.
TALKER_RUN = """\
trap 'echo final line; exit 0' TERM
echo first line
while :; do sleep 0.1; done"""


# --- /proc, from the host ---------------------------------------------------------------


@attrs.frozen
class Proc:
    """One process as /proc shows it: (pid, start time) names it even when pids wrap."""

    pid: int
    ppid: int
    state: str
    started: int


def _proc(pid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the command: state(3) ppid(4) ... starttime(22)
    return Proc(pid, int(fields[1]), fields[0], int(fields[19]))


def _all() -> dict[int, Proc]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            proc = _proc(int(entry))
            if proc is not None:
                table[proc.pid] = proc
    return table


def _descendants(root: int) -> dict[int, Proc]:
    table = _all()
    found: dict[int, Proc] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for proc in table.values():
            if proc.ppid == parent and proc.pid not in found:
                found[proc.pid] = proc
                frontier.append(proc.pid)
    return found


def _ns_pid(pid: int) -> int | None:
    """The pid of host process `pid` in its own (innermost) PID namespace."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except OSError:
        return None
    return None


def _exists(proc: Proc) -> bool:
    """Whether that very process (same start time) is still in /proc, zombie or not."""
    now = _proc(proc.pid)
    return now is not None and now.started == proc.started


# --- the namespace --------------------------------------------------------------------


def _require_namespaces() -> None:
    """unshare must work here; if not, skip (a failure under CI=true: never pass silently)."""
    problem = None
    if not os.access(UNSHARE, os.X_OK):
        problem = f"{UNSHARE} is not installed (util-linux)"
    else:
        result = subprocess.run(
            [*NAMESPACE, "/bin/true"], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            problem = (
                f"{' '.join(NAMESPACE)} /bin/true: exit {result.returncode}, "
                f"{result.stderr.strip()!r}"
            )
    if problem is not None:
        unavailable(f"PID namespaces: {problem}")


class Namespaced:
    """``unshare --pid --fork --mount-proc svscan ROOT``: our svscan as PID 1 of a namespace."""

    def __init__(self, root: Path):
        self.root = root
        self.unshare = Daemon(root, program=[*NAMESPACE, *SVSCAN])
        self._init: int | None = None

    async def init(self) -> int:
        """The host pid of the namespaced svscan (unshare's child, PID 1 inside)."""
        if self._init is None:

            def child() -> int:
                code = self.unshare.process.poll()
                if code is not None:  # not worth retrying: say why at once
                    raise RuntimeError(f"unshare exited {code}: {self.unshare.stderr()!r}")
                kids = [p.pid for p in _all().values() if p.ppid == self.unshare.pid]
                return kids[0] if kids and cmdline(kids[0]).endswith(str(self.root)) else 0

            pid = await eventually(child, what="svscan started inside the namespace")
            assert isinstance(pid, int)
            assert _ns_pid(pid) == 1, f"svscan (host pid {pid}) is not PID 1 in its namespace"
            self._init = pid
        return self._init

    def processes(self) -> dict[int, Proc]:
        """Every process inside the namespace but svscan, by host pid."""
        if self._init is None:
            return {}
        return _descendants(self._init)

    def host_pid(self, ns_pid: int) -> int | None:
        """The host pid of the process that is `ns_pid` inside the namespace."""
        for pid in self.processes():
            if _ns_pid(pid) == ns_pid:
                return pid
        return None

    def zombies(self) -> dict[int, str]:
        """Zombies inside the namespace: host pid -> what they were."""
        return {
            proc.pid: f"ppid {proc.ppid}"
            for proc in self.processes().values()
            if proc.state == "Z"
        }

    def terminate(self) -> None:
        """SIGTERM to svscan itself: unshare would ignore it, and not pass it on."""
        assert self._init is not None
        os.kill(self._init, signal.SIGTERM)

    def stop(self) -> None:
        """Teardown: TERM svscan (by its host pid); if it ignores it, KILL it (and so the
        namespace: the kernel kills everything inside when its PID 1 dies)."""
        if self.unshare.process.poll() is not None:
            return
        if self._init is None:
            kids = [p.pid for p in _all().values() if p.ppid == self.unshare.pid]
            self._init = kids[0] if kids else None
        if self._init is not None:
            os.kill(self._init, signal.SIGTERM)
        try:
            self.unshare.process.wait(PATIENCE)
        except subprocess.TimeoutExpired:
            if self._init is not None:
                os.kill(self._init, signal.SIGKILL)
            self.unshare.process.wait()
            raise AssertionError(
                f"namespaced svscan {self._init} ignored SIGTERM for {PATIENCE} s"
            ) from None


@pytest.fixture
def namespaced() -> Iterator[Callable[[Path], Namespaced]]:
    """Start our svscan as PID 1 of a new PID namespace; stopped by pid at teardown."""
    _require_namespaces()
    running: list[Namespaced] = []

    def start(root: Path) -> Namespaced:
        namespace = Namespaced(root)
        running.append(namespace)
        return namespace

    yield start
    for namespace in running:
        namespace.stop()


# --- PID 1 ----------------------------------------------------------------------------


async def test_pid1_reaps_orphans_and_never_steals_a_service_status(
    tmp_path: Path, namespaced: Callable[[Path], Namespaced]
) -> None:
    root = tmp_path / "root"
    orphans = make_service(root, "orphans", ORPHANS_RUN)
    steady = make_service(root, "steady", "exec sleep 1000")
    seven = make_service(root, "seven", SEVEN_RUN, finish='echo "$@" >> finished')
    namespace = namespaced(root)
    init = await namespace.init()

    steady_pid = (await started(steady)).pid  # pids in status files are the namespace's
    first_seven = (await started(seven)).pid

    seen: dict[int, Proc] = {}  # every orphan seen, by host pid
    adopted: set[int] = set()  # those seen as children of svscan

    async def watch_orphans() -> None:
        while True:
            for proc in namespace.processes().values():
                if proc.state != "Z" and cmdline(proc.pid) == ORPHAN_CMDLINE:
                    seen.setdefault(proc.pid, proc)
                    if proc.ppid == init:
                        adopted.add(proc.pid)
            await trio.sleep(0.02)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_orphans)
        await eventually(lambda: adopted, what="an orphan reparented to svscan (PID 1)")

        # A service exits 7 while orphans come and go around it.
        (seven / "go").write_text("")
        await eventually(
            lambda: (seven / "finished").read_text() == "7 0\n", what="./finish told 7 0"
        )

        def restarted() -> int:
            record = read_status(seven)
            ok = record.pid not in (0, first_seven) and record.run_state is RunState.RUN
            return record.pid if ok else 0

        second_seven = await eventually(restarted, what="seven up again")

        await eventually(lambda: (orphans / "spawned").exists(), what="all orphans spawned")
        nursery.cancel_scope.cancel()

    # Every orphan exits within 1.5 s; svscan must collect each one: none is left,
    # not even as a zombie (transient zombies are fine, an accumulation is not).
    await eventually(
        lambda: not [proc for proc in seen.values() if _exists(proc)],
        what="every orphan exited and reaped",
    )
    await eventually(lambda: not namespace.zombies(), what="no zombie in the namespace")
    await trio.sleep(0.5)
    assert namespace.zombies() == {}, "zombies came back in the namespace"
    assert len(seen) >= 2, f"too few orphans seen to prove anything: {seen}"

    # The services kept their pids, and the statuses reached their supervisor.
    assert read_status(steady).pid == steady_pid
    assert read_status(seven).pid == second_seven
    assert (seven / "finished").read_text() == "7 0\n"
    for ns_pid in (steady_pid, second_seven):
        host = namespace.host_pid(ns_pid)
        assert host is not None, f"namespace pid {ns_pid} is gone"
        proc = _proc(host)
        assert proc is not None and proc.ppid == init and proc.state != "Z"
        assert cmdline(host) == "sleep 1000"

    namespace.terminate()
    assert namespace.unshare.wait() == 0, namespace.unshare.stderr()


async def test_sigterm_to_pid1_stops_services_then_loggers(
    tmp_path: Path, namespaced: Callable[[Path], Namespaced]
) -> None:
    root = tmp_path / "root"
    order = tmp_path / "order"
    talker = make_service(root, "talker", TALKER_RUN, finish=f"echo main >> {order}")
    log = make_service(talker, "log", "exec cat >> logged", finish=f"echo log >> {order}")
    make_service(root, "orphans", ORPHANS_FOREVER_RUN)
    namespace = namespaced(root)
    init = await namespace.init()
    await started(talker)
    await started(log)
    await eventually(lambda: (log / "logged").read_text() == "first line\n", what="first line")
    inside = [*namespace.processes().values(), _proc(init)]

    namespace.terminate()
    assert namespace.unshare.wait() == 0, namespace.unshare.stderr()

    # The service went down first and its last words still reached the logger,
    # which drained the pipe and went down after it.
    assert (log / "logged").read_text() == "first line\nfinal line\n"
    assert order.read_text() == "main\nlog\n"
    for service in (talker, log):
        record = read_status(service)
        assert (record.pid, record.run_state) == (0, RunState.DOWN), service
    # PID 1 gone: nothing of the namespace is left (orphans included).
    assert not [proc for proc in inside if proc is not None and _exists(proc)]


# --- -s, outside a namespace ----------------------------------------------------------


@pytest.mark.parametrize("subreaper", [True, False], ids=["with -s", "without -s"])
async def test_orphan_goes_to_the_nearest_subreaper(
    tmp_path: Path, start_svscan: Any, subreaper: bool
) -> None:
    """With -s svscan adopts and reaps an orphan of its tree; without it, pytest gets it."""
    root = tmp_path / "root"
    spawner = make_service(
        root, "spawner", "(sleep 4 & echo $! > orphan.new; mv orphan.new orphan)\nexec sleep 1000"
    )
    daemon = start_svscan(root, *(["-s"] if subreaper else []))
    await started(spawner)
    pid = await eventually(lambda: int((spawner / "orphan").read_text()), what="orphan's pid")
    assert isinstance(pid, int)
    orphan = _proc(pid)
    assert orphan is not None, "the orphan is gone already"
    adopter = daemon.pid if subreaper else os.getpid()

    def parent() -> bool:
        now = _proc(pid)
        assert now is not None and now.started == orphan.started, "the orphan vanished"
        return now.ppid == adopter

    await eventually(parent, what=f"orphan {pid} reparented to {adopter}")

    if subreaper:
        # It exits after 4 s: svscan reaps it, so it is gone, not a zombie.
        await eventually(lambda: not _exists(orphan), what=f"orphan {pid} exited and reaped")
        zombies = [p for p in _descendants(daemon.pid).values() if p.state == "Z"]
        assert zombies == []
    else:
        # It is ours (pytest's) to reap: a zombie until we do.
        def zombie() -> bool:
            now = _proc(pid)
            return now is not None and now.started == orphan.started and now.state == "Z"

        await eventually(zombie, what=f"orphan {pid} exited (a zombie child of pytest)")
        reaped = await trio.to_thread.run_sync(os.waitpid, pid, os.WNOHANG)
        assert reaped[0] == pid
    assert daemon.stop() == 0, daemon.stderr()

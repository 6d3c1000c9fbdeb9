"""Debian's clients against a tree run by our svscan, and daemontools' own svscan beside it.

Every service here has a ``log/`` whose run is ``cat``: our svscan runs
``NAME`` and ``NAME/log`` as two supervised directories joined by a pipe, as
daemontools' ``svscan`` does with two ``supervise`` processes. daemontools'
``svstat``/``svc``/``svok``, runit's ``sv`` and s6's ``s6-svstat`` must see
and drive our tree as they see and drive theirs; where a peer scanner runs the
same tree (daemontools' ``svscan``, runit's ``runsvdir``), the outputs are
compared, pids and seconds aside.

A peer scanner is a child of the test; at teardown its whole tree is frozen
(SIGSTOP, so nothing restarts or forks any more), then every process of it is
killed by pid: daemontools' svscan does not stop its ``supervise`` children on
SIGTERM, and ``supervise`` does not stop its service.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from interop.interop_support import (
    CLIENT_TIMEOUT,
    PeerSupervisors,
    descendants_of,
    normalise,
    peer_up,
    run_client,
    status_bytes,
    status_pid,
    svc,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from supervise.status import RunState
from support import (
    PATIENCE,
    eventually,
    make_service,
    peer,
    pid_alive,
    read_status,
    started,
    supervisor_listening,
)

#: Says hello on each start (to its logger), then runs; HUP is noted in ./hups.
RUN = """\
trap 'echo hup >> hups' HUP
echo > trap-set
echo hello from {name}
while :; do sleep 0.1; done"""
LOG_RUN = "exec cat >> logged"


def make_tree(root: Path, *names: str) -> list[Path]:
    """Services `names` under `root`, each with a ``log/`` that appends to ``log/logged``."""
    services = []
    for name in names:
        service = make_service(root, name, RUN.format(name=name))
        make_service(service, "log", LOG_RUN)
        services.append(service)
    return services


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def svstat_lines(root: Path, *names: str) -> str:
    """daemontools' ``svstat NAMES`` run in `root`; it must exit 0, silent on stderr."""
    result = run_client([peer("svstat"), *names], cwd=root)
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout


def svok(service: Path) -> int:
    result = run_client([peer("svok"), str(service)])
    assert (result.stdout, result.stderr) == ("", ""), result
    return result.returncode


def _shows(text: str, expect: str) -> bool:
    """`text` is `expect` but for pids and seconds (see `normalise`)."""
    return normalise(text) == expect


# --- peer scanners ----------------------------------------------------------------------


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


class PeerScanner:
    """daemontools' ``svscan`` or runit's ``runsvdir`` on a root, a child of the test."""

    def __init__(self, program: str, root: Path):
        self.output_path = root.parent / f"{program}-{time.monotonic_ns()}.out"
        with open(self.output_path, "wb") as output:
            self.process = subprocess.Popen(
                [peer(program), str(root)], stdout=output, stderr=output
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.output_path.read_text()

    def kill(self) -> None:
        """Freeze the scanner and everything under it, then kill each process by pid."""
        if self.process.poll() is not None:
            return
        frozen: set[int] = set()
        new = {self.pid}
        while new:  # a process forked before its parent froze is frozen on the next round
            for pid in new:
                _signal(pid, signal.SIGSTOP)
            frozen |= new
            new = descendants_of(self.pid) - frozen
        for pid in frozen:
            _signal(pid, signal.SIGKILL)
        self.process.wait()
        # The rest were reparented to pytest (a subreaper): reap them.
        deadline = time.monotonic() + PATIENCE
        for pid in frozen - {self.pid}:
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


@pytest.fixture
def peer_scanners() -> Iterator[list[PeerScanner]]:
    """A list to put started peer scanners in; each is killed, tree and all, at teardown."""
    running: list[PeerScanner] = []
    try:
        yield running
    finally:
        for scanner in running:
            scanner.kill()


# --- svstat ----------------------------------------------------------------------------


async def test_svstat_reads_services_and_loggers_under_our_svscan(
    tmp_path: Path, start_svscan: Any
) -> None:
    peer("svstat")
    root = tmp_path / "root"
    a, b = make_tree(root, "a", "b")
    daemon = start_svscan(root)
    pids = {}
    for service in (a, a / "log", b, b / "log"):
        pids[service] = (await started(service)).pid
        assert _ppid(pids[service]) == daemon.pid, f"{service} is not a child of svscan"

    text = svstat_lines(root, "a", "a/log", "b", "b/log")
    lines = text.splitlines()
    assert len(lines) == 4, text
    for line, name in zip(lines, ("a", "a/log", "b", "b/log"), strict=True):
        match = re.fullmatch(rf"{name}: up \(pid (\d+)\) \d+ seconds", line)
        assert match, f"daemontools' svstat: {line!r}"
        assert int(match.group(1)) == pids[root / name]
    assert daemon.stop() == 0, daemon.stderr()


# --- svc and svok ----------------------------------------------------------------------


async def test_svc_and_svok_drive_a_service_under_our_svscan(
    tmp_path: Path, start_svscan: Any
) -> None:
    for tool in ("svc", "svok", "svstat"):
        peer(tool)
    root = tmp_path / "root"
    (a,) = make_tree(root, "a")
    log = a / "log"
    daemon = start_svscan(root)
    first = (await started(a)).pid
    logger = (await started(log)).pid
    assert (svok(a), svok(log)) == (0, 0)

    # -d: down, and stays down (normally up).
    svc("-d", a)
    await eventually(
        lambda: _shows(svstat_lines(root, "a"), "a: down N seconds, normally up\n"),
        what="down after svc -d",
    )
    assert not pid_alive(first)
    (a / "trap-set").unlink()

    # -u: up again, a new process.
    svc("-u", a)
    second = (await started(a)).pid
    assert second != first
    assert _shows(svstat_lines(root, "a"), "a: up (pid P) N seconds\n")

    # -h: HUP reaches the service, which keeps running.
    await eventually(lambda: (a / "trap-set").exists(), what="HUP trap set")
    svc("-h", a)
    await eventually(lambda: (a / "hups").read_text() == "hup\n", what="HUP noted")
    assert read_status(a).pid == second and pid_alive(second)

    # -dx: the directory is released; svscan takes it back (as daemontools' svscan
    # restarts an exited supervise), and the logger never stopped meanwhile.
    svc("-dx", a)
    await eventually(lambda: not supervisor_listening(a), what="a released after svc -dx")
    assert svok(a) == 100
    assert svok(log) == 0
    third = (await started(a)).pid
    assert third not in (first, second)
    assert svok(a) == 0
    assert read_status(log).pid == logger and pid_alive(logger)
    await eventually(
        lambda: (log / "logged").read_text() == "hello from a\n" * 3,
        what="a hello per start, all through the one pipe",
    )

    assert daemon.stop() == 0, daemon.stderr()
    assert (svok(a), svok(log)) == (100, 100)
    assert not pid_alive(third) and not pid_alive(logger)


# --- runit's sv ------------------------------------------------------------------------


async def _sv(root: Path, *args: str) -> tuple[int, str]:
    """``sv ARGS ./a`` in `root` (a path with a slash: no detour through $SVDIR)."""
    with trio.fail_after(CLIENT_TIMEOUT):
        result = await trio.run_process(
            [peer("sv"), *args, "./a"], cwd=root,
            capture_stdout=True, capture_stderr=True, check=False,
        )
    assert result.stderr == b"", f"sv {args} in {root}: stderr {result.stderr!r}"
    return result.returncode, result.stdout.decode()


async def test_sv_under_our_svscan_as_under_runsvdir(
    tmp_path: Path, start_svscan: Any, peer_scanners: list[PeerScanner]
) -> None:
    for tool in ("sv", "runsvdir"):
        peer(tool)
    theirs, ours = tmp_path / "runit", tmp_path / "ours"
    make_tree(theirs, "a")
    make_tree(ours, "a")
    peer_scanners.append(PeerScanner("runsvdir", theirs))
    daemon = start_svscan(ours)
    await peer_up(theirs / "a")
    await peer_up(theirs / "a" / "log")
    await started(ours / "a")
    await started(ours / "a" / "log")

    async def both(*args: str, expect: tuple[int, str]) -> None:
        results: dict[Path, tuple[int, str]] = {}

        async def one(root: Path) -> None:
            results[root] = await _sv(root, *args)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, theirs)
            nursery.start_soon(one, ours)
        for root in (theirs, ours):
            code, text = results[root]
            assert (code, normalise(text)) == expect, (
                f"sv {' '.join(args)} under {root.name}: {results[root]!r}, all: {results!r}"
            )

    await both("status", expect=(0, "run: ./a: (pid P) Ns; run: log: (pid P) Ns\n"))
    await both("down", expect=(0, ""))
    for root in (theirs, ours):
        await eventually(lambda r=root: status_pid(r / "a") == 0, what=f"{root}/a down")
    await both("status", expect=(0, "down: ./a: Ns, normally up; run: log: (pid P) Ns\n"))
    await both("-w", "5", "up", expect=(0, "ok: run: ./a: (pid P) Ns\n"))
    await both("status", expect=(0, "run: ./a: (pid P) Ns; run: log: (pid P) Ns\n"))
    await both("-w", "5", "stop", expect=(0, "ok: down: ./a: Ns, normally up\n"))
    await both("-w", "5", "start", expect=(0, "ok: run: ./a: (pid P) Ns\n"))
    assert status_bytes(ours / "a")[19] == 1  # runit's byte: run

    assert daemon.stop() == 0, daemon.stderr()
    code, text = await _sv(ours, "status")
    assert (code, text) == (1, "fail: ./a: runsv not running\n")


# --- s6 ----------------------------------------------------------------------------------


async def test_s6_svstat_sees_our_svscan_tree_as_daemontools_svscan_tree(
    tmp_path: Path, start_svscan: Any, peer_scanners: list[PeerScanner]
) -> None:
    """s6 decides "running" from a lock no flock supervisor takes: not running, for both."""
    for tool in ("s6-svstat", "svscan", "supervise"):
        peer(tool)
    theirs, ours = tmp_path / "daemontools", tmp_path / "ours"
    make_tree(theirs, "a")
    make_tree(ours, "a")
    peer_scanners.append(PeerScanner("svscan", theirs))
    daemon = start_svscan(ours)
    await peer_up(theirs / "a")
    await started(ours / "a")
    for root in (theirs, ours):
        for service in (root / "a", root / "a" / "log"):
            result = run_client([peer("s6-svstat"), str(service)])
            assert (result.returncode, result.stdout, result.stderr) == (
                1,
                "",
                f"s6-svstat: fatal: : unable to read status for {service}: "
                "s6-supervise not running\n",
            )
    assert daemon.stop() == 0, daemon.stderr()


# --- daemontools' own svscan -------------------------------------------------------------


async def test_same_tree_under_daemontools_svscan_and_ours(
    tmp_path: Path, start_svscan: Any, peer_scanners: list[PeerScanner]
) -> None:
    for tool in ("svscan", "supervise", "svstat"):
        peer(tool)
    theirs, ours = tmp_path / "daemontools", tmp_path / "ours"
    make_tree(theirs, "a", "b")
    make_tree(ours, "a", "b")
    scanner = PeerScanner("svscan", theirs)
    peer_scanners.append(scanner)
    daemon = start_svscan(ours)
    names = ("a", "a/log", "b", "b/log")
    for name in names:
        await peer_up(theirs / name)
        await started(ours / name)

    expect = "".join(f"{name}: up (pid P) N seconds\n" for name in names)
    for root in (theirs, ours):
        text = svstat_lines(root, *names)
        assert normalise(text) == expect, f"svstat under {root.name}: {text!r}"

    # NAME's stdout goes to NAME/log's stdin, under both.
    for root in (theirs, ours):
        for name in ("a", "b"):
            logged = root / name / "log" / "logged"
            await eventually(
                lambda f=logged, n=name: f.read_text() == f"hello from {n}\n",
                what=f"{logged}: the service's line",
            )

    # Same layout of supervise/ files where daemontools defines them.
    for name in names:
        for file in ("control", "lock", "ok", "status"):
            assert (theirs / name / "supervise" / file).exists()
            assert (ours / name / "supervise" / file).exists(), f"ours: {name}/supervise/{file}"

    assert scanner.process.poll() is None, scanner.output()
    assert daemon.stop() == 0, daemon.stderr()
    for name in names:
        record = read_status(ours / name)
        assert (record.pid, record.run_state) == (0, RunState.DOWN), name


# --- the lock ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "a/log"])
async def test_supervise_refuses_a_directory_under_our_svscan(
    tmp_path: Path, start_svscan: Any, peers: PeerSupervisors, name: str
) -> None:
    peer("supervise")
    root = tmp_path / "root"
    make_tree(root, "a")
    daemon = start_svscan(root)
    service = root / name
    pid = (await started(service)).pid
    before = status_bytes(service)

    intruder = peers.start("supervise", service)
    assert intruder.wait(10) == 111
    assert intruder.output() == (
        f"supervise: fatal: unable to acquire {service}/supervise/lock: temporary failure\n"
    )
    assert status_bytes(service) == before
    assert pid_alive(pid) and _ppid(pid) == daemon.pid
    assert supervisor_listening(service)
    assert daemon.stop() == 0, daemon.stderr()

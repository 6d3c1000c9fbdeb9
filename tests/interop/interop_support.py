"""Helpers for the interop tests: running Debian's peers and cleaning up after them.

The peers (daemontools' ``supervise``, runit's ``runsv``) are started as
children of the test by `PeerSupervisors`; at teardown every one still
running is frozen (SIGSTOP, so it forks nothing more), its descendants and the
pid in its status file are killed by pid, then it is killed by pid. The real
``supervise`` does not stop its service on SIGTERM, so nothing gentler works
for it.

Peers are always called by absolute path (``support.peer``): our console
script is also called ``supervise``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from support import PATIENCE, eventually, peer, pid_alive, send

#: How long a peer client (svstat, sv, svc, ...) may take before the test fails.
CLIENT_TIMEOUT = 30.0

_PID = re.compile(r"\(pid \d+\)")
_SECONDS = re.compile(r"\b\d+ seconds\b")
_RUNIT_SECONDS = re.compile(r"\b\d+s\b")


def normalise(text: str) -> str:
    """Hide what differs between two identical runs: pids and elapsed seconds.

    ``(pid 123)`` becomes ``(pid P)``, ``4 seconds`` (daemontools) becomes
    ``N seconds``, ``4s`` (runit's ``sv``) becomes ``Ns``.
    """
    text = _PID.sub("(pid P)", text)
    text = _SECONDS.sub("N seconds", text)
    return _RUNIT_SECONDS.sub("Ns", text)


def run_client(
    argv: list[str], cwd: Path | None = None, timeout: float = CLIENT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a peer's client tool to completion; its stdout, stderr and exit code."""
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def svstat(parent: Path, name: str) -> str:
    """daemontools' ``svstat name`` run in `parent`: one line, ``name: ...``."""
    result = run_client([peer("svstat"), name], cwd=parent)
    assert result.returncode == 0, f"svstat exited {result.returncode}: {result.stderr!r}"
    return result.stdout


def svc(*args: str | Path, cwd: Path | None = None) -> None:
    """daemontools' ``svc``; it must exit 0 and say nothing."""
    result = run_client([peer("svc"), *map(str, args)], cwd=cwd)
    assert (result.returncode, result.stderr) == (0, ""), (
        f"svc {args} exited {result.returncode}: {result.stderr!r}"
    )


def status_bytes(service: Path) -> bytes:
    return (service / "supervise" / "status").read_bytes()


def status_pid(service: Path) -> int:
    """The pid in bytes 12-15 of a daemontools/runit status file (0 if down, unreadable,
    or another layout: s6's 35 bytes)."""
    try:
        data = status_bytes(service)
    except OSError:
        return 0
    if not 18 <= len(data) <= 20:
        return 0
    return int(struct.unpack("<L", data[12:16])[0])


def status_version(service: Path) -> tuple[int, int, int]:
    """Inode and times of ``supervise/status``: each rewrite (``status.new`` + rename) changes them.

    Not the inode alone: two rewrites in a row can leave the first inode number in place.
    """
    try:
        info = (service / "supervise" / "status").stat()
    except OSError:
        return (0, 0, 0)
    return (info.st_ino, info.st_mtime_ns, info.st_ctime_ns)


def control_pending(service: Path) -> int | None:
    """Bytes written to ``supervise/control`` and not yet read; None if nobody listens."""
    try:
        fd = os.open(service / "supervise" / "control", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buffer = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("i", buffer)[0])
    finally:
        os.close(fd)


def proc_state(pid: int) -> str:
    """The state letter of `pid` in /proc (``S``, ``T`` for stopped, ...), or ``?``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def _ppids() -> dict[int, int]:
    table: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                table[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return table


def descendants_of(root: int) -> set[int]:
    """Every live descendant of `root`."""
    table = _ppids()
    found: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return found


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _reap(pids: set[int], timeout: float = 5.0) -> None:
    """Wait (briefly) until `pids` are dead, reaping those that are our children."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


class PeerSupervisor:
    """A real ``supervise``, ``runsv`` or ``s6-supervise`` on one directory, a child of the test."""

    def __init__(self, program: str, service: Path, log: Path):
        self.service = service
        self.log_path = log
        self._log = open(log, "wb")
        self.process = subprocess.Popen(
            [peer(program), str(service)], stdout=self._log, stderr=self._log
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text()

    def wait(self, timeout: float = PATIENCE) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        """Kill the supervisor and everything it started, by pid."""
        if self.process.poll() is None:
            _kill(self.pid, signal.SIGSTOP)  # frozen: it starts nothing more
            children = descendants_of(self.pid)
            _kill(self.pid, signal.SIGKILL)
            self.process.wait()
            for pid in children:
                _kill(pid, signal.SIGKILL)
            _reap(children)
        # The pid in its status file: a service the supervisor lost (it died
        # first) was reparented to pytest, the subreaper. Only such an orphan:
        # a refused peer's directory holds the status of another supervisor.
        pid = status_pid(self.service)
        if pid and _ppids().get(pid) == os.getpid():
            _kill(pid, signal.SIGKILL)
            _reap({pid})
        self._log.close()


class PeerSupervisors:
    """Starts real supervisors; `kill_all` (the fixture's teardown) kills them by pid."""

    def __init__(self) -> None:
        self.running: list[PeerSupervisor] = []

    def start(self, program: str, service: Path) -> PeerSupervisor:
        log = service.parent / f"{program}-{service.name}-{time.monotonic_ns()}.out"
        supervisor = PeerSupervisor(program, service, log)
        self.running.append(supervisor)
        return supervisor

    def kill_all(self) -> None:
        for supervisor in self.running:
            supervisor.kill()


@pytest.fixture(name="peers")
def peers_fixture() -> Iterator[PeerSupervisors]:
    """Start Debian's supervisors; all of them (and their services) are killed at teardown."""
    started = PeerSupervisors()
    try:
        yield started
    finally:
        started.kill_all()


def release(service: Path) -> None:
    """Make our daemon let go of `service` even if its service ignores TERM: ``d x k``.

    For a test's ``finally``: at teardown our daemon only gets SIGTERM, which
    it passes on as a TERM such a service ignores.
    """
    if control_pending(service) is not None:
        with contextlib.suppress(OSError):
            send(service, b"dxk")


async def peer_up(service: Path, timeout: float = PATIENCE) -> int:
    """Wait until a real supervisor has written a status with a pid and listens; the pid."""

    def up() -> int:
        assert control_pending(service) is not None, "supervisor not listening"
        pid = status_pid(service)
        assert pid and pid_alive(pid), f"no live pid in status ({pid})"
        return pid

    result = await eventually(up, timeout, f"{service} up under the peer")
    assert isinstance(result, int)
    return result


async def next_second() -> None:
    """Sleep into the next whole Unix second (status stamps have 1 s resolution for sv)."""
    now = time.time()
    await trio.sleep(int(now) + 1 - now + 0.01)

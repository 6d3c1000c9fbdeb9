"""Fixtures shared by every test: no test may leave a process of its own running.

pytest makes itself a child subreaper, so that every process a test starts,
however deep (a service started in its own session by a daemon the test
killed), is reparented to pytest rather than to init. After each test the
fixture lists pytest's descendants; anything new still running after a short
grace is killed by pid and the test fails, naming it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support import SVSCAN, Daemon

PR_SET_CHILD_SUBREAPER = 36
#: Seconds a test's processes get to finish after the test before they count as strays.
GRACE = float(os.environ.get("STRAY_GRACE_SECONDS", "10"))


def pytest_configure(config: pytest.Config) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _parents() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, state letter) of every process on the machine."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                fields = stat_file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), fields[0])
    return table


def descendants(root: int | None = None) -> dict[int, str]:
    """pid -> state of every live descendant of `root` (default: this process)."""
    root = os.getpid() if root is None else root
    table = _parents()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, state) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = state
                frontier.append(pid)
    return found


def _reap_zombies(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


@pytest.fixture(autouse=True)
def no_stray_processes() -> Iterator[None]:
    """Fail the test if a process it started is still running after it (then kill it)."""
    before = set(descendants())
    yield
    deadline = time.monotonic() + GRACE
    while True:
        now = descendants()
        _reap_zombies({pid for pid, state in now.items() if state == "Z"})
        strays = {pid for pid, state in descendants().items() if state != "Z"} - before
        if not strays or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if strays:
        names = {pid: _cmdline(pid) for pid in strays}
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
        _reap_zombies(strays)
        pytest.fail(f"test left processes running: {names}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With CI=true, an interop test that skips is a failure: a missing peer must not pass."""
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CI", "").lower() == "true"
        and report.skipped
        and "interop" in item.nodeid.split("/")
    ):
        report.outcome = "failed"
        report.longrepr = f"interop test skipped under CI=true: {report.longrepr}"


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., Daemon]]:
    """Start our daemon on directories; every one started is stopped (by pid) at teardown."""
    running: list[Daemon] = []

    def start(*dirs: Path, **kwargs: Any) -> Daemon:
        daemon = Daemon(*dirs, **kwargs)
        running.append(daemon)
        return daemon

    yield start
    for daemon in running:
        if daemon.process.poll() is None:
            daemon.stop()


@pytest.fixture
def start_svscan() -> Iterator[Callable[..., Daemon]]:
    """Start our svscan on a root (``start_svscan(root, "-s")``); stopped by pid at teardown."""
    running: list[Daemon] = []

    def start(root: Path, *options: str, **kwargs: Any) -> Daemon:
        daemon = Daemon(root, program=[*SVSCAN, *options], **kwargs)
        running.append(daemon)
        return daemon

    yield start
    for daemon in running:
        if daemon.process.poll() is None:
            daemon.stop()

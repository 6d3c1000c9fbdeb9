"""Fixtures shared by every test: no test may leave a process of its own running.

pytest makes itself a child subreaper, so that every process a test starts,
however deep (a service started in its own session by a daemon the test
killed), is reparented to pytest rather than to init. After each test the
fixture lists pytest's descendants; anything new still running after a short
grace is killed by pid and the test fails, naming it.

The plugin `ci_guard` makes a skip for want of a Debian peer or a tmpfs a
failure under CI=true, wherever the test lives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ci_guard import (
    load_hypothesis_profile,
    pytest_runtest_makereport,  # noqa: F401  (the hook, made ours)
)
from cmdline import out
from supervise.cgroups import remove_stale
from supervise.process import become_subreaper
from support import SVSCAN, Daemon, cmdline, daemon_cgroups, descendants, own_cgroup

#: Seconds a test's processes get to finish after the test before they count as strays.
GRACE = float(os.environ.get("STRAY_GRACE_SECONDS", "10"))

#: Here, not in a hook: @settings decorators take the profile as it is when a module is imported.
HYPOTHESIS_PROFILE = load_hypothesis_profile()


def pytest_configure(config: pytest.Config) -> None:
    become_subreaper()


def _reap_zombies(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


@pytest.fixture(autouse=True)
def program_name() -> Iterator[None]:
    """A command's main names the program its messages carry (`cmdline.out.begin`); the next
    test starts with the name this one found."""
    before = out.program()
    yield
    out.begin(before)


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
        names = {pid: cmdline(pid) for pid in strays}
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
        _reap_zombies(strays)
        pytest.fail(f"test left processes running: {names}")


def _daemons(program: Callable[..., Daemon]) -> Iterator[Callable[..., Daemon]]:
    """A fixture body: start daemons with `program`; stop every one still running (by pid)."""
    running: list[Daemon] = []

    def start(*args: Any, **kwargs: Any) -> Daemon:
        daemon = program(*args, **kwargs)
        running.append(daemon)
        return daemon

    yield start
    for daemon in running:
        if daemon.process.poll() is None:
            daemon.stop()
    _no_cgroup_left(running)


def _no_cgroup_left(daemons: list[Daemon]) -> None:
    """Every daemon that exited on its own removed its cgroups (`supervise.cgroups`); those
    of a daemon the test killed (``kill -9``) are removed here. A cgroup left behind fails
    the test, and is emptied (``cgroup.kill``) and removed all the same."""
    left = []
    for daemon in daemons:
        said = daemon.stderr() if daemon.stderr_path.exists() else ""
        made = daemon_cgroups(daemon.pid)  # the services' first, its own subtree last
        # Kept by a daemon killed -9 (it cannot clean), or kept on purpose because processes
        # the test left were still in it (the stray check names those), with its subtree.
        kept = {where for where in made if f"processes are left in {where}: it is kept" in said}
        for where in made:
            excused = where in kept or (where == made[-1] and kept)
            if daemon.process.returncode != -signal.SIGKILL and not excused:
                left.append(where)
            _remove_cgroup(where)
    own = own_cgroup()
    if own is not None:  # a daemon that was PID 1 of a namespace has a name of its own
        remove_stale(str(own))
    assert left == [], f"daemons left cgroups behind: {left}"


def _remove_cgroup(where: Path) -> None:
    if (where / "cgroup.kill").exists():
        with contextlib.suppress(OSError):
            (where / "cgroup.kill").write_text("1")
    deadline = time.monotonic() + GRACE
    while True:
        try:
            where.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., Daemon]]:
    """Start our supervise on directories (``start_daemon(dir, ...)``)."""
    yield from _daemons(Daemon)


@pytest.fixture
def start_svscan() -> Iterator[Callable[..., Daemon]]:
    """Start our svscan on a root (``start_svscan(root, "-s")``)."""

    def svscan(root: Path, *options: str, **kwargs: Any) -> Daemon:
        return Daemon(root, program=[*SVSCAN, *options], **kwargs)

    yield from _daemons(svscan)

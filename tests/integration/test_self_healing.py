"""Self-healing: a fault escaping the daemon's tasks re-executes it, services kept.

Faults are injected with `supervise.inject` (a 0600 file named by the
daemon's environment) at each point: a spawn, a status write, a control read,
the scan, the reaper's callback, and outside every guard (the whole task tree
dies; `supervise.keeper` re-executes as after kill -9). After each: one alert
line, the same pids, no second copy of a service, control works.
"""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from supervise.inject import ENV as INJECT
from supervise.reexec import ENV
from supervise.status import RunState
from support import (
    Daemon,
    eventually,
    make_service,
    pid_alive,
    read_status,
    send,
    sockets,
    started,
)

RUN = "exec sleep 1000"


def copies(service: Path) -> int:
    """Processes running with `service` as their working directory (zombies not counted)."""
    found = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/cwd") != str(service):
                continue
            with open(f"/proc/{entry}/stat") as stat:
                found += stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            continue
    return found


def handed_over(pid: int) -> bool:
    with open(f"/proc/{pid}/environ", "rb") as f:
        return any(word.startswith(f"{ENV}=".encode()) for word in f.read().split(b"\0"))


def new_image(daemon: Daemon, old: set[str]) -> bool:
    """Whether `daemon` runs trio again in an image that is not the one holding `old`
    sockets (none at all: an image still starting)."""
    now = sockets(daemon.pid)
    return bool(now) and now.isdisjoint(old)


class Faults:
    """Arms a daemon's injection file and waits for each fault to be healed."""

    def __init__(self, where: Path) -> None:
        self.path = where / "inject"

    def env(self) -> dict[str, str]:
        return {INJECT: str(self.path)}

    async def inject(self, daemon: Daemon, point: str, trigger: Any, *, healed: bool = True
                     ) -> None:
        """Ask for a fault at `point`, `trigger` it, wait for the alert and the new image."""
        alerts = daemon.stderr().count(": alert: ")
        old = sockets(daemon.pid)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, point.encode())
        os.close(fd)
        trigger()
        await eventually(lambda: not self.path.exists(), what=f"the fault at {point}")
        await eventually(lambda: daemon.stderr().count(": alert: ") > alerts, what="the alert")
        if healed:
            def exec_done() -> bool:
                assert daemon.process.poll() is None, daemon.stderr()
                return new_image(daemon, old)

            await eventually(exec_done, what="the re-exec")


async def controllable(service: Path) -> None:
    """`d` brings it down and `u` up again: the daemon reads control and acts."""
    send(service, b"d")
    await eventually(lambda: read_status(service).run_state is RunState.DOWN, what="down")
    send(service, b"u")
    await started(service)


async def test_faults_at_each_point_keep_every_service(tmp_path: Path, start_daemon: Any
                                                       ) -> None:
    faults = Faults(tmp_path)
    a, b, victim = (make_service(tmp_path, name, RUN) for name in ("a", "b", "victim"))
    daemon = start_daemon(a, b, victim, env=faults.env())
    first = {each: (await started(each)).pid for each in (a, b, victim)}

    await faults.inject(daemon, "control", lambda: send(a, b"p"))
    await eventually(lambda: read_status(a).paused, what="the p read by the new image")
    assert handed_over(daemon.pid)
    await faults.inject(daemon, "status", lambda: send(a, b"c"))
    await eventually(lambda: not read_status(a).paused, what="the c written by the new image")
    await faults.inject(daemon, "reap", lambda: os.kill(first[victim], signal.SIGKILL))
    second = (await eventually(lambda: read_status(victim).pid != first[victim]
                               and read_status(victim).pid, what="victim restarted"))
    await faults.inject(daemon, "spawn", lambda: send(victim, b"k"))
    third = await eventually(lambda: read_status(victim).pid not in (0, first[victim], second)
                             and read_status(victim).pid, what="victim started again")

    text = daemon.stderr()
    assert text.count(": alert: internal error in ") == 4, text
    for point in ("control", "status", "reap", "spawn"):
        assert f"Injected('{point}'): re-executing, services kept" in text
    assert {each: read_status(each).pid for each in (a, b)} == {a: first[a], b: first[b]}
    assert read_status(victim).pid == third
    assert [copies(each) for each in (a, b, victim)] == [1, 1, 1]
    for each in (a, b, victim):
        await controllable(each)
    assert daemon.stop() == 0


async def test_a_fault_in_the_scan_heals_svscan(tmp_path: Path, start_svscan: Any) -> None:
    faults = Faults(tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    make_service(root, "a", RUN)
    a = root / "a"
    daemon = start_svscan(root, env=faults.env())
    pid = (await started(a)).pid
    await faults.inject(daemon, "scan", lambda: make_service(root, "b", RUN))
    await started(root / "b")  # the new image's scan found it
    assert read_status(a).pid == pid
    assert [copies(root / "a"), copies(root / "b")] == [1, 1]
    await controllable(root / "b")
    assert daemon.stop() == 0


@pytest.mark.parametrize(("point", "said"), [
    ("tree", "the daemon failed: Injected('tree')"),
    ("export", "alert: unable to hand the state over: Injected('export'): the new image takes "
               "back every running service by its pid"),
])
async def test_taken_back_by_pid(tmp_path: Path, start_daemon: Any, point: str, said: str
                                 ) -> None:
    """The whole task tree dies (the keeper re-executes), or a SIGHUP's state cannot be
    exported (the re-exec hands nothing over): the new image takes back by pid."""
    faults = Faults(tmp_path)
    a, b = make_service(tmp_path, "a", RUN), make_service(tmp_path, "b", RUN)
    daemon = start_daemon(a, b, env=faults.env())
    first = {each: (await started(each)).pid for each in (a, b)}
    await faults.inject(daemon, point, lambda: daemon.signal(signal.SIGHUP))
    await eventually(lambda: daemon.stderr().count("still runs: supervising it again") == 2,
                     what="both taken back")
    assert said in daemon.stderr()
    assert not handed_over(daemon.pid)
    assert {each: read_status(each).pid for each in (a, b)} == first
    assert [copies(a), copies(b)] == [1, 1]
    for each in (a, b):
        await controllable(each)
    assert daemon.stop() == 0


async def test_the_keeper_keeps_the_services_while_the_exec_fails(tmp_path: Path,
                                                                  start_daemon: Any) -> None:
    """The task tree dies and the re-exec cannot happen (a directory of the command line is
    gone): the keeper says why, keeps every service running, and tries again; a SIGHUP
    once the directory is back re-executes, and the new image takes back by pid."""
    faults = Faults(tmp_path)
    a, b = make_service(tmp_path, "a", RUN), make_service(tmp_path, "b", RUN)
    daemon = start_daemon(a, b, env=faults.env())
    first = {each: (await started(each)).pid for each in (a, b)}
    away = tmp_path / "away"
    b.rename(away)
    await faults.inject(daemon, "tree", lambda: daemon.signal(signal.SIGHUP), healed=False)
    await eventually(lambda: f"unable to re-execute: unable to read {b}: gone or not readable; "
                     "trying again in " in daemon.stderr(), what="the failed exec")
    assert daemon.process.poll() is None
    assert all(pid_alive(pid) for pid in first.values())
    away.rename(b)
    daemon.signal(signal.SIGHUP)
    await eventually(lambda: daemon.stderr().count("still runs: supervising it again") == 2,
                     what="both taken back")
    assert {each: read_status(each).pid for each in (a, b)} == first
    assert [copies(a), copies(b)] == [1, 1]
    for each in (a, b):
        await controllable(each)
    assert daemon.stop() == 0


async def test_five_faults_in_a_minute_stop_the_loop_until_sighup(tmp_path: Path,
                                                                  start_daemon: Any) -> None:
    faults = Faults(tmp_path)
    a = make_service(tmp_path, "a", RUN)
    daemon = start_daemon(a, env=faults.env())
    pid = (await started(a)).pid
    for byte in (b"p", b"c", b"p", b"c"):
        await faults.inject(daemon, "control", functools.partial(send, a, byte))
    await faults.inject(daemon, "control", lambda: send(a, b"p"), healed=False)
    assert ("5 faults within 60 seconds: no longer re-executing, keeping what runs; trying "
            "again in 60 seconds, or on SIGHUP") in daemon.stderr()
    assert daemon.process.poll() is None
    assert read_status(a).pid == pid and copies(a) == 1
    old = sockets(daemon.pid)
    daemon.signal(signal.SIGHUP)  # the operator asks for the re-exec now
    await eventually(lambda: new_image(daemon, old), what="the re-exec")
    await eventually(lambda: read_status(a).paused, what="the p read by the new image")
    send(a, b"c")
    await controllable(a)
    assert copies(a) == 1
    assert daemon.stop() == 0


async def test_a_fault_during_the_shutdown_does_not_stop_it(tmp_path: Path,
                                                            start_daemon: Any) -> None:
    """A fault while SIGTERM brings everything down: the new image finishes the shutdown
    (the SIGTERM is passed on), and the daemon exits as after an orderly one."""
    faults = Faults(tmp_path)
    a, b = make_service(tmp_path, "a", RUN), make_service(tmp_path, "b", RUN)
    daemon = start_daemon(a, b, env=faults.env())
    for each in (a, b):
        await started(each)
    await faults.inject(daemon, "status", lambda: daemon.signal(signal.SIGTERM), healed=False)
    await eventually(lambda: daemon.process.poll() is not None, what="the daemon's exit")
    text = daemon.stderr()
    assert "alert: internal error in " in text and "Injected('status')" in text, text
    assert daemon.process.returncode == 0, text
    assert [copies(a), copies(b)] == [0, 0]
    assert [read_status(each).run_state for each in (a, b)] == [RunState.DOWN, RunState.DOWN], text

"""Starting, restarting and the one-start-a-second rule, with real processes."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from child_state import RUN, recorded
from supervise.status import RunState, Want
from support import (
    eventually,
    make_service,
    pid_alive,
    read_status,
    send,
    started,
    supervisor_listening,
)


def _proc_stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


async def test_child_environment(tmp_path: Path, start_daemon: Any) -> None:
    """./run: argv ./run, cwd the service dir, own session, only fds 0-2, no shell of ours."""
    service = make_service(tmp_path, "env", 'echo "$0 $#" > argv; ' + RUN)
    start_daemon(service)
    pid = (await started(service)).pid
    argv = await eventually(lambda: (service / "argv").read_text(), what="argv written")
    assert argv == "./run 0\n"
    assert os.readlink(f"/proc/{pid}/cwd") == str(service)
    assert int(_proc_stat(pid)[3]) == pid  # session id: setsid() happened
    # Read once sleep waits: while it starts it opens its locale files.
    assert (await recorded(service / "run-pid", "sleep"))["fds"] == "0 1 2"


async def test_nosetsid_keeps_the_daemons_session(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "ns", "exec sleep 1000", nosetsid="")
    daemon = start_daemon(service)
    pid = (await started(service)).pid
    assert _proc_stat(pid)[3] == _proc_stat(daemon.pid)[3]


async def test_restart_after_exit_and_throttle(tmp_path: Path, start_daemon: Any) -> None:
    """A run that exits at once is restarted, but never twice within a second."""
    service = make_service(tmp_path, "flap", 'date +%s.%N >> starts; exit 0')
    start_daemon(service)
    starts = service / "starts"
    await eventually(lambda: len(starts.read_text().split()) >= 4, what="4 starts")
    times = [float(line) for line in starts.read_text().split()]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.9, gaps


async def test_control_bytes_are_heard_during_the_throttle_second(
    tmp_path: Path, start_daemon: Any
) -> None:
    """daemontools is deaf for a second after each start; we are not.

    Right after a start we send ``d``; the stamp of going down must be less
    than a second after the start stamp. A try where the test itself was too
    slow to send within half a second is not evidence either way and is repeated.
    """
    service = make_service(tmp_path, "deaf", "exec sleep 1000", down="")
    start_daemon(service)
    await eventually(lambda: supervisor_listening(service), what="supervised")
    for _ in range(10):
        send(service, b"u")
        up = await started(service)
        sent_at = time.time()
        send(service, b"d")
        down = await eventually(lambda: (r := read_status(service)).pid == 0 and r)
        if sent_at - up.stamp.unix() < 0.5:
            assert down.stamp.unix() - up.stamp.unix() < 1.0  # type: ignore[union-attr]
            return
        start = up.stamp.unix()
        await eventually(lambda s=start: time.time() - s > 1.0)
    raise AssertionError("the test never managed to send within 0.5 s of a start")


async def test_down_file_means_want_down_and_once_runs_once(
    tmp_path: Path, start_daemon: Any
) -> None:
    service = make_service(tmp_path, "once", 'echo ran >> runs; sleep 0.3', down="")
    start_daemon(service)
    await eventually(lambda: supervisor_listening(service), what="supervised")
    record = read_status(service)
    assert (record.pid, record.want, record.run_state) == (0, Want.DOWN, RunState.DOWN)
    send(service, b"o")
    await started(service)
    await eventually(lambda: read_status(service).pid == 0, what="once finished")
    record = read_status(service)
    assert record.want is Want.ONCE
    assert (service / "runs").read_text() == "ran\n"


async def test_exit_waits_for_the_service_then_releases(tmp_path: Path, start_daemon: Any) -> None:
    """daemontools' ``x``: the running service is not stopped; when it dies, no restart."""
    service = make_service(tmp_path, "x", "exec sleep 1000")
    daemon = start_daemon(service)
    pid = (await started(service)).pid
    send(service, b"x")
    await eventually(lambda: read_status(service).pid == pid)
    assert pid_alive(pid) and supervisor_listening(service)
    send(service, b"k")
    assert daemon.wait() == 0
    assert not supervisor_listening(service)
    assert read_status(service).pid == 0


async def test_no_zombies_after_many_restarts(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "z", 'echo . >> starts; sleep 0.01 & exit 0')
    daemon = start_daemon(service)
    await eventually(lambda: len((service / "starts").read_text()) >= 6, what="3 starts")

    def zombies() -> set[str]:
        return {
            entry
            for entry in os.listdir("/proc")
            if entry.isdigit() and _is_zombie_child(entry, daemon.pid)
        }

    # A run that has just exited is a zombie until the daemon hears SIGCHLD; on a
    # loaded machine we may look in that instant. Every zombie seen must be reaped.
    seen = zombies()
    await eventually(lambda: not (seen & zombies()), what=f"zombies {seen} reaped")
    assert len((service / "starts").read_text()) >= 6


def _is_zombie_child(entry: str, parent: int) -> bool:
    try:
        fields = _proc_stat(int(entry))
    except OSError:
        return False
    return fields[0] == "Z" and int(fields[1]) == parent

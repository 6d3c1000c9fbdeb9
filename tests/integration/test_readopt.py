"""``kill -9`` of the daemon, then the daemon again on the same tree: services are taken back.

daemontools' supervise would start a second copy of every service. Ours reads
the status the dead daemon left, checks that its pid is still the same
process (start time, session), watches it with a pidfd and carries on: same
pids, same uptime, control works, and a service that died in the gap is
started again. Under svscan the log pipe is taken back too, from the
processes that still hold it, so no line is lost.

The orphans of the killed daemon are reparented to pytest (a subreaper):
the new daemon is not their parent, which is exactly the case to prove.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from supervise import status
from support import (
    NUMBERS,
    Daemon,
    daemon_cgroups,
    descendants,
    eventually,
    kill_idle_logger,
    log_lines,
    make_service,
    new_pid,
    numbers_break,
    peer,
    pid_alive,
    read_status,
    scan_root,
    send,
    started,
    supervisor_listening,
    with_log,
)


def _kill9(daemon: Daemon) -> None:
    daemon.process.kill()
    daemon.process.wait()


def _sleeps_of(pids: set[int]) -> set[int]:
    """Which of `pids` still run (not zombies)."""
    alive = {pid for pid, state in descendants().items() if state != "Z"}
    return pids & alive


async def test_supervise_takes_back_its_services(tmp_path: Path, start_daemon: Any) -> None:
    """Same pids and stamps after the restart; d, u and k work on a taken-back service."""
    services = [make_service(tmp_path, name, "exec sleep 1000") for name in ("a", "b", "c")]
    first = start_daemon(*services)
    before = {service: await started(service) for service in services}
    _kill9(first)
    second = start_daemon(*services)
    for service in services:
        await eventually(lambda s=service: f"{s}: run (pid {before[s].pid}) still runs"
                         in second.stderr(), what=f"{service} taken back")
        assert read_status(service) == before[service]  # same pid, same stamp
    a, b, c = services
    send(a, b"d")  # the exit of a process that is not our child is seen through its pidfd
    await eventually(lambda: read_status(a).pid == 0, what="a down")
    assert not pid_alive(before[a].pid)
    send(a, b"u")
    assert (await started(a)).pid != before[a].pid
    send(b, b"k")  # killed, so restarted: a new pid, the daemon's own child
    await new_pid(b, before[b].pid)
    ours = descendants(second.pid)
    assert read_status(b).pid in ours and before[c].pid not in ours
    assert read_status(c).pid == before[c].pid


async def test_service_that_died_in_the_gap_is_started(tmp_path: Path, start_daemon: Any) -> None:
    alive = make_service(tmp_path, "alive", "exec sleep 1000")
    dead = make_service(tmp_path, "dead", "exec sleep 1000")
    first = start_daemon(alive, dead)
    kept, lost = (await started(alive)).pid, (await started(dead)).pid
    _kill9(first)
    os.kill(lost, signal.SIGKILL)
    await eventually(lambda: not pid_alive(lost), what="dead service gone")
    start_daemon(alive, dead)
    await new_pid(dead, lost)
    assert read_status(alive).pid == kept


async def test_a_reused_pid_is_not_taken_for_the_service(tmp_path: Path, start_daemon: Any) -> None:
    """A status naming a live process that started at another time: start a fresh copy.

    The impostor is a process of ours whose pid the forged status names, with
    a stamp an hour before it started. It must be neither adopted nor signalled.
    """
    service = make_service(tmp_path, "s", "exec sleep 1000")
    impostor = _impostor()
    try:
        supervise_dir = service / "supervise"
        supervise_dir.mkdir(mode=0o700)
        forged = status.Status(status.Tai64n.from_unix(time.time() - 3600), pid=impostor.pid,
                               run_state=status.RunState.RUN)
        (supervise_dir / "status").write_bytes(status.pack(forged))
        daemon = start_daemon(service)
        await eventually(lambda: supervisor_listening(service), what="daemon listening")
        fresh = await started(service)
        assert fresh.pid not in (0, impostor.pid)
        send(service, b"d")
        await eventually(lambda: read_status(service).pid == 0, what="fresh copy down")
        assert impostor.poll() is None
        assert "still runs" not in daemon.stderr()
    finally:
        impostor.kill()
        impostor.wait()


async def test_svscan_takes_back_100_services(tmp_path: Path, start_svscan: Any) -> None:
    """The issue's test: after kill -9 and a new svscan, the same 100 pids and no duplicate."""
    root = scan_root(tmp_path)
    services = [make_service(root, f"s{n:03d}", "exec sleep 1000") for n in range(100)]
    first = start_svscan(root)
    pids = {service: (await started(service)).pid for service in services}
    _kill9(first)
    second = start_svscan(root)
    await eventually(lambda: second.stderr().count("still runs") == 100, what="100 taken back",
                     timeout=60)
    for service in services:
        record = read_status(service)
        assert record.pid == pids[service] and record.want is status.Want.UP
    sleeps = {pid for pid in descendants() if _comm(pid) == "sleep"}
    assert sleeps == set(pids.values())  # nothing started twice
    # With cgroups, each is moved into the new daemon's; the dead one's are removed.
    assert daemon_cgroups(first.pid) == [] and "unable to move" not in second.stderr()
    assert _svstat_pids(services) == [pids[service] for service in services]
    second.signal(signal.SIGTERM)
    assert second.wait(60) == 0
    assert not _sleeps_of(set(pids.values()))


async def test_svscan_takes_back_the_log_pipe(tmp_path: Path, start_svscan: Any) -> None:
    """Writer and logger survive svscan's death; the new svscan holds their pipe again.

    Then the logger is killed (while idle on the empty pipe, the writer paused)
    and its replacement reads the same pipe: every number arrives once, in order.
    """
    root = scan_root(tmp_path)
    service = with_log(root, "numbers", NUMBERS, log_run="sleep 0.3; exec cat >> ./lines")
    log = service / "log"
    first = start_svscan(root)
    writer, logger = (await started(service)).pid, (await started(log)).pid
    await eventually(lambda: len(log_lines(log)) > 200, what="lines flowing")
    _kill9(first)
    second = start_svscan(root)
    await eventually(lambda: second.stderr().count("still runs") == 2, what="both taken back")
    seen = len(log_lines(log))
    await eventually(lambda: len(log_lines(log)) > seen + 200, what="lines still flowing")
    await kill_idle_logger(service, writer, logger)
    await new_pid(log, logger)
    seen = len(log_lines(log))
    await eventually(lambda: len(log_lines(log)) > seen + 200, what="lines reach the new logger")
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert numbers_break(log) is None, numbers_break(log)
    assert read_status(service).pid == 0 and not pid_alive(writer)


def _impostor() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "1000"], start_new_session=True)


def _svstat_pids(services: list[Path]) -> list[int]:
    """The pid Debian's svstat reads for each service (each must be up)."""
    result = subprocess.run([peer("svstat"), *map(str, services)], capture_output=True,
                            text=True, check=True, timeout=30)
    return [int(line.split(" (pid ")[1].split(")")[0]) for line in result.stdout.splitlines()]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as file:
            return file.read().strip()
    except OSError:
        return ""

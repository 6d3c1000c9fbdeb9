"""Out of processes, descriptors or disk: the daemon says so, keeps what runs, and recovers.

Each resource is really exhausted: RLIMIT_NPROC for a daemon running as
``nobody`` (root is exempt from it), RLIMIT_NOFILE lowered for the daemon
alone, and a 64 KiB tmpfs filled to the last block under the service tree.
Recovery is by the resource coming back, with nothing done to the daemon.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from support import (
    eventually,
    make_service,
    pid_alive,
    read_status,
    scan_root,
    send,
    small_tmpfs,
    started,
    supervisor_listening,
)

NOBODY = 65534


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A scan root `nobody` may use (pytest's tmp_path is under a 0700 directory)."""
    parent = Path(tempfile.mkdtemp(prefix="exhaust-"))
    parent.chmod(0o755)
    root = parent / "root"
    root.mkdir()
    yield root
    shutil.rmtree(parent, ignore_errors=True)


def _svscan_as(*prefix: str) -> list[str]:
    return [*prefix, sys.executable, "-m", "supervise.svscan_cli"]


async def test_process_limit_reached_then_freed(open_root: Path, start_daemon: Any) -> None:
    """RLIMIT_NPROC 8 for `nobody`, 4 of them taken by other processes: 6 services cannot all
    start. Once those 4 exit, the rest start by themselves; none that ran is restarted.

    (Root is exempt from RLIMIT_NPROC, and without CAP_SYS_RESOURCE cannot change another
    user's limits: freeing processes is how the resource comes back.)
    """
    services = [make_service(open_root, f"s{n}", "exec sleep 1000") for n in range(6)]
    for path in [open_root, *services]:
        os.chown(path, NOBODY, NOBODY)
    hogs = [_as_nobody("sleep", "1000") for _ in range(4)]
    try:
        daemon = start_daemon(open_root, cwd=open_root.parent, program=_svscan_as(
            "prlimit", "--nproc=8:", "--",
            "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
        ))
        await eventually(lambda: "unable to start" in daemon.stderr(), what="spawn failure said")
        assert re.search(r"unable to start s\d/run: temporary failure", daemon.stderr())  # EAGAIN
        up = [service for service in services if _pid(service)]
        assert 0 < len(up) < len(services)
        first = {service: _pid(service) for service in up}
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    for service in services:
        await started(service, timeout=30)  # retried with back-off, at most 10 s apart
    assert all(_pid(service) == pid for service, pid in first.items())
    assert daemon.process.poll() is None


async def test_descriptors_run_out_then_come_back(tmp_path: Path, start_daemon: Any) -> None:
    """Too few descriptors for every directory: the rest wait; removing some lets them in."""
    root = scan_root(tmp_path)
    services = [make_service(root, f"s{n:02d}", "exec sleep 1000") for n in range(30)]
    daemon = start_daemon(root, cwd=tmp_path, program=_svscan_as("prlimit", "--nofile=64:64",
                                                                 "--"))
    await eventually(lambda: "RLIMIT_NOFILE" in daemon.stderr(), what="shortage said",
                     timeout=30)

    def settled() -> bool:
        """Each directory is up under svscan, or was refused for want of descriptors."""
        refused = [line for line in daemon.stderr().splitlines() if "open more files" in line]
        return all(
            _pid(service) if supervisor_listening(service)
            else any(f" {service.name}/" in line for line in refused)
            for service in services
        )

    await eventually(settled, what="every directory up or refused", timeout=30)
    waiting = [service for service in services if not supervisor_listening(service)]
    running = [service for service in services if supervisor_listening(service)]
    assert waiting and running
    pids = {service: _pid(service) for service in running}
    for service in running[: len(waiting) + 2]:  # free their descriptors
        send(service, b"dx")
    for service in waiting:
        await started(service, timeout=60)
    for service in running[len(waiting) + 2 :]:
        assert _pid(service) == pids[service]
    assert daemon.process.poll() is None
    assert daemon.stderr().count("RLIMIT_NOFILE") == 1  # said once, not once per service


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, unmounted after the test."""
    with small_tmpfs(tmp_path / "disk") as mount:
        yield mount


def _fill(disk: Path) -> Path:
    """Fill `disk` to the last byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"x" * size)
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


async def test_full_disk_for_status_writes(small_disk: Path, start_daemon: Any) -> None:
    """The service still goes down on `d` with the disk full; the status follows once freed."""
    service = make_service(small_disk, "s", "exec sleep 1000")
    daemon = start_daemon(service, cwd=small_disk.parent)
    pid = (await started(service)).pid
    filler = _fill(small_disk)
    send(service, b"d")
    await eventually(lambda: "unable to write" in daemon.stderr(), what="write failure said")
    assert "No space left" in daemon.stderr() or "out of disk space" in daemon.stderr()
    assert not pid_alive(pid)  # it did go down
    assert read_status(service).pid == pid  # the file could not say so yet
    filler.unlink()
    await eventually(lambda: read_status(service).pid == 0, what="status rewritten", timeout=30)
    send(service, b"u")
    assert (await started(service)).pid != pid
    assert daemon.process.poll() is None


async def test_crash_loop_does_not_starve_control(tmp_path: Path, start_svscan: Any) -> None:
    """100 services crashing at once every second; `d` on a good one still acts promptly.

    The bound is generous (a loaded 2-core machine); the figure itself is in
    docs/reliability.md, from ``make soak``.
    """
    root = scan_root(tmp_path)
    crashes = tmp_path / "crashes"  # a line per start of a crashing service
    for n in range(100):
        make_service(root, f"crash{n:03d}", f"echo >> {crashes}; exit 1")
    good = make_service(root, "good", "exec sleep 1000")
    start_svscan(root)
    pid = (await started(good, timeout=60)).pid
    # the load is there: the crashing services have been started three times over
    await eventually(lambda: crashes.read_text().count("\n") >= 300, timeout=60,
                     what="three rounds of crashes")
    began = trio.current_time()
    send(good, b"d")
    await eventually(lambda: read_status(good).pid == 0, what="good down", timeout=30)
    assert trio.current_time() - began < 5.0
    assert not pid_alive(pid)


def _pid(service: Path) -> int:
    try:
        return read_status(service).pid
    except OSError:
        return 0


def _as_nobody(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                             "--clear-groups", *argv])

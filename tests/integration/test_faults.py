"""A broken directory gets one clear line, is retried, and disturbs nobody else."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import trio

from support import (
    Daemon,
    eventually,
    make_service,
    read_status,
    send,
    started,
    supervisor_listening,
)


async def _good_service_still_obeys(service: Path) -> None:
    pid = read_status(service).pid
    send(service, b"k")
    await eventually(lambda: read_status(service).pid not in (0, pid), what="good restarted")


def _lines_about(daemon: Daemon, path: Path) -> list[str]:
    return [line for line in daemon.stderr().splitlines() if str(path) in line]


async def test_broken_directories_beside_a_good_one(tmp_path: Path, start_daemon: Any) -> None:
    good = make_service(tmp_path, "good", "exec sleep 1000")
    missing = tmp_path / "missing"
    no_run = tmp_path / "no-run"
    no_run.mkdir()
    not_exec = make_service(tmp_path, "not-exec", "exit 0")
    (not_exec / "run").chmod(0o644)
    run_dir = tmp_path / "run-dir"
    (run_dir / "run").mkdir(parents=True)
    control_file = make_service(tmp_path, "control-file", "exec sleep 1000")
    (control_file / "supervise").mkdir(mode=0o700)
    (control_file / "supervise" / "control").write_text("not a fifo")
    control_link = make_service(tmp_path, "control-link", "exec sleep 1000")
    (control_link / "supervise").mkdir(mode=0o700)
    (control_link / "supervise" / "control").symlink_to("/etc/passwd")
    ok_file = make_service(tmp_path, "ok-file", "touch ran; exec sleep 1000")
    (ok_file / "supervise").mkdir(mode=0o700)
    (ok_file / "supervise" / "ok").write_text("not a fifo")
    ok_link = make_service(tmp_path, "ok-link", "touch ran; exec sleep 1000")
    (ok_link / "supervise").mkdir(mode=0o700)
    (ok_link / "supervise" / "ok").symlink_to("/etc/passwd")
    supervise_file = make_service(tmp_path, "supervise-file", "exec sleep 1000")
    (supervise_file / "supervise").write_text("")
    unwritable = make_service(tmp_path, "unwritable", "exec sleep 1000")
    (unwritable / "supervise").symlink_to("/proc/self/fdinfo")  # even root cannot create there
    broken = {
        missing: "unable to open {}: file does not exist",
        no_run: "unable to start {}/run: file does not exist",
        not_exec: "unable to start {}/run: access denied",
        run_dir: "unable to start {}/run: access denied",
        control_file: "unable to open {}/supervise/control: not a FIFO",
        control_link: "unable to open {}/supervise/control: a symbolic link, not a FIFO",
        ok_file: "unable to create {}/supervise/ok: not a FIFO",
        ok_link: "unable to create {}/supervise/ok: a symbolic link, not a FIFO",
        supervise_file: "unable to open {}/supervise: not a directory",
        unwritable: "unable to open {}/supervise/lock:",
    }
    daemon = start_daemon(good, *broken)
    await started(good)
    for path, text in broken.items():
        expected = text.format(path)
        await eventually(
            lambda e=expected, p=path: any(e in line for line in _lines_about(daemon, p)),
            what=expected,
        )
    await trio.sleep(3.5)  # several retries later: still one line per directory
    for path in broken:
        assert len(_lines_about(daemon, path)) == 1, daemon.stderr()
    assert (tmp_path / "control-link" / "supervise" / "control").is_symlink()
    # ok is checked before ./run starts: a directory that cannot be taken runs nothing
    assert not (ok_file / "ran").exists() and not (ok_link / "ran").exists()
    await _good_service_still_obeys(good)
    # fixing a directory is picked up by the retry
    (not_exec / "run").write_text("#!/bin/sh\nexec sleep 1000\n")
    (not_exec / "run").chmod(0o755)
    await started(not_exec)
    assert daemon.process.poll() is None


async def test_directory_deleted_while_running(tmp_path: Path, start_daemon: Any) -> None:
    good = make_service(tmp_path, "good", "exec sleep 1000")
    doomed = make_service(tmp_path, "doomed", "exec sleep 1000")
    daemon = start_daemon(good, doomed)
    await started(good)
    doomed_pid = (await started(doomed)).pid
    shutil.rmtree(doomed)
    os.kill(doomed_pid, 9)
    await eventually(
        lambda: any("unable to" in line for line in _lines_about(daemon, doomed)),
        what="a line about the deleted directory",
    )
    await _good_service_still_obeys(good)
    assert daemon.process.poll() is None


async def test_lock_held_by_ourselves_is_refused(tmp_path: Path, start_daemon: Any) -> None:
    """The same directory twice: the second is refused like a second supervise."""
    service = make_service(tmp_path, "twice", "exec sleep 1000")
    first = start_daemon(service)
    await started(service)
    second = start_daemon(service)
    assert second.wait() == 111
    assert f"unable to acquire {service}/supervise/lock: temporary failure" in second.stderr()
    assert supervisor_listening(service) and first.process.poll() is None


async def test_usage(tmp_path: Path, start_daemon: Any) -> None:
    daemon = start_daemon(cwd=tmp_path)
    assert daemon.wait() == 100
    assert daemon.stderr() == "supervise: usage: supervise dir [dir ...]\n"

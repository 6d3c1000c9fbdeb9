"""What ``supervise/`` holds: modes, runit's stat and pid, atomic status, no symlink followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import trio

from supervise import layout, status
from support import (
    IGNORE_TERM_RUN,
    eventually,
    make_service,
    read_status,
    send,
    started,
    started_ignoring_term,
    supervisor_listening,
)


async def test_modes_and_files(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "m", "exec sleep 1000")
    start_daemon(service)
    pid = (await started(service)).pid
    sup = service / "supervise"
    assert stat.S_IMODE(sup.stat().st_mode) == 0o700
    for fifo in ("control", "ok"):
        info = os.lstat(sup / fifo)
        assert stat.S_ISFIFO(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE((sup / "lock").stat().st_mode) == 0o600
    assert len((sup / "status").read_bytes()) == 20
    assert (sup / "pid").read_text() == f"{pid}\n"
    assert (sup / "stat").read_text() == "run\n"
    assert not (sup / "status.new").exists()
    send(service, b"d")
    await eventually(lambda: (sup / "stat").read_text() == "down\n")
    assert (sup / "pid").read_text() == ""


async def test_first_status_is_in_place_before_ok_listens(
    tmp_path: Path, start_daemon: Any
) -> None:
    """daemontools' order: a client that finds the supervisor listening reads its status.

    The first status is written once ./run has started, so it already says "up".
    """
    service = make_service(tmp_path, "o", "exec sleep 1000")
    start_daemon(service)
    sup = service / "supervise"
    with trio.fail_after(20):
        while not supervisor_listening(service):
            await trio.lowlevel.checkpoint()
    record = read_status(service)
    assert record.pid > 0 and (sup / "pid").read_text() == f"{record.pid}\n"


async def test_xstatus_only_when_it_has_something_to_add(
    tmp_path: Path, start_daemon: Any
) -> None:
    """A plain service that is up has no xstatus; once ./run has exited, it holds how."""
    service = make_service(tmp_path, "x", "exec sleep 1000")
    start_daemon(service)
    await started(service)
    xstatus = service / "supervise" / "xstatus"
    assert not xstatus.exists()
    send(service, b"d")
    await eventually(lambda: read_status(service).pid == 0)
    await eventually(lambda: xstatus.exists())
    extra = status.unpack_extra(xstatus.read_bytes())
    assert extra.flags & status.ExtraFlag.EXITED and extra.exit_signal == 15
    send(service, b"u")
    await started(service)
    # once written, kept up to date: bound to the status of the new start
    status_file = service / "supervise" / "status"
    await eventually(
        lambda: layout.extra_matches(xstatus.read_bytes(), status_file.read_bytes())
    )


async def test_stat_text_while_term_is_ignored(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "t", IGNORE_TERM_RUN)
    start_daemon(service)
    await started_ignoring_term(service)
    send(service, b"d")
    stat_file = service / "supervise" / "stat"
    await eventually(lambda: stat_file.read_text() == "run, got TERM, want down\n")
    send(service, b"k")
    await eventually(lambda: stat_file.read_text() == "down\n")


async def test_supervise_may_be_a_dangling_symlink(tmp_path: Path, start_daemon: Any) -> None:
    """Debian's daemontools, runit and s6 allow it: the target is created."""
    service = make_service(tmp_path, "l", "exec sleep 1000")
    target = tmp_path / "elsewhere"
    (service / "supervise").symlink_to(target)
    start_daemon(service)
    await started(service)
    assert (target / "status").exists() and stat.S_ISFIFO((target / "control").lstat().st_mode)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


async def test_planted_status_new_symlink_is_not_followed(
    tmp_path: Path, start_daemon: Any
) -> None:
    service = make_service(tmp_path, "s", "exec sleep 1000", down="")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    sup = service / "supervise"
    sup.mkdir(mode=0o700)
    (sup / "status.new").symlink_to(victim)
    (sup / "pid.new").symlink_to(victim)
    start_daemon(service)
    await eventually(lambda: supervisor_listening(service))
    send(service, b"u")
    await started(service)
    assert victim.read_text() == "precious\n"
    assert not (sup / "status").is_symlink()
    send(service, b"d")
    await eventually(lambda: read_status(service).pid == 0)

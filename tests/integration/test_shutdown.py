"""SIGTERM/SIGINT to the daemon: every service down (finish run), then exit 0."""

from __future__ import annotations

import contextlib
import os
import signal
import struct
from pathlib import Path
from typing import Any

import pytest
import trio

from supervise import inotify
from supervise.status import RunState
from support import (
    IGNORE_TERM_RUN,
    eventually,
    make_service,
    pid_alive,
    read_status,
    started,
    started_ignoring_term,
    supervisor_listening,
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_brings_every_service_down(
    tmp_path: Path, start_daemon: Any, signum: int
) -> None:
    services = [
        make_service(tmp_path, f"s{i}", "exec sleep 1000", finish='echo "$@" > finished')
        for i in range(3)
    ]
    idle = make_service(tmp_path, "idle", "exec sleep 1000", down="")
    daemon = start_daemon(*services, idle)
    pids = [(await started(service)).pid for service in services]
    await eventually(lambda: supervisor_listening(idle))
    daemon.process.send_signal(signum)
    assert daemon.wait() == 0
    for service, pid in zip(services, pids, strict=True):
        assert not pid_alive(pid)
        assert (service / "finished").read_text() == "-1 15\n"
        record = read_status(service)
        assert (record.pid, record.run_state) == (0, RunState.DOWN)
        assert not supervisor_listening(service)


async def test_second_signal_kills_what_ignores_term(tmp_path: Path, start_daemon: Any) -> None:
    stubborn = make_service(tmp_path, "stubborn", IGNORE_TERM_RUN)
    daemon = start_daemon(stubborn)
    pid = (await started_ignoring_term(stubborn)).pid
    daemon.process.send_signal(signal.SIGTERM)
    await eventually(lambda: read_status(stubborn).term_sent, what="TERM sent")
    assert daemon.process.poll() is None and pid_alive(pid)  # waits for it, no hidden kill
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert not pid_alive(pid)


async def test_a_service_gone_at_once_has_its_status_written_once(
    tmp_path: Path, start_daemon: Any
) -> None:
    """A shutdown holds back "want down" (SHUTDOWN_QUIET): one quick to go gets one write.

    Counted with inotify: every replacement of ``status`` is a rename onto it.
    """
    service = make_service(tmp_path, "quick", "exec sleep 1000")
    daemon = start_daemon(service)
    await started(service)
    watch = inotify.init()
    assert watch is not None
    try:
        assert inotify.add_watch(watch, str(service / "supervise"), inotify.IN_MOVED_TO)
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.wait() == 0
        renamed = _names(os.read(watch, 65536))
    finally:
        os.close(watch)
    assert renamed.count("status") == 1, renamed
    record = read_status(service)
    assert (record.pid, record.run_state) == (0, RunState.DOWN)


def _names(events: bytes) -> list[str]:
    """The file names in a buffer of ``struct inotify_event``."""
    names = []
    while events:
        _wd, _mask, _cookie, size = struct.unpack_from("iIII", events)
        names.append(events[16 : 16 + size].rstrip(b"\0").decode())
        events = events[16 + size :]
    return names


@pytest.mark.parametrize("round_", range(8))
async def test_signals_while_the_daemon_ends_do_not_cut_it_short(
    tmp_path: Path, start_daemon: Any, round_: int
) -> None:
    """SIGTERM every millisecond from the first until the daemon is gone: the signals that
    come while it ends (its services down, its cgroups being removed) wait for that end,
    so it still exits 0 and leaves nothing (the fixture checks its cgroups are gone).

    A supervisor under systemd or an operator's loop gets exactly this: a second stop
    while the first is being carried out."""
    services = [make_service(tmp_path, f"s{i}", "exec sleep 1000") for i in range(3)]
    daemon = start_daemon(*services)
    for service in services:
        await started(service)
    while daemon.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            daemon.process.send_signal(signal.SIGTERM)
        await trio.sleep(0.001)
    assert daemon.process.returncode == 0, f"round {round_}: {daemon.stderr()}"
    for service in services:
        assert read_status(service).run_state == RunState.DOWN

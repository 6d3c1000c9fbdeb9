"""SIGTERM/SIGINT to the daemon: every service down (finish run), then exit 0."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

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

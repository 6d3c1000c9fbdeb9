"""The daemon starts a service, answers control bytes, and stops it on SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import (
    eventually,
    make_service,
    pid_alive,
    read_status,
    send,
    started,
    supervisor_listening,
)


async def test_start_down_up_and_sigterm(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "a", "exec sleep 1000")
    daemon = start_daemon(service)
    first = await started(service)
    assert supervisor_listening(service)
    send(service, b"d")
    await eventually(lambda: read_status(service).pid == 0, what="down")
    assert not pid_alive(first.pid)
    send(service, b"u")
    second = await started(service)
    assert second.pid != first.pid
    assert daemon.stop() == 0
    assert not pid_alive(second.pid)
    assert not supervisor_listening(service)

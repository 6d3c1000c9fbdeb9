"""daemontools' ``svok`` sees our daemon as it sees the real ``supervise``.

``svok`` exits 0 if ``supervise/ok`` can be opened for writing without
blocking (a supervisor holds it for reading), 100 if not (ENXIO, or no such
file). The same sequence runs against both supervisors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interop.interop_support import (
    PeerSupervisors,
    peer_up,
    run_client,
    svc,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import make_service, peer, started


def svok(service: Path) -> int:
    result = run_client([peer("svok"), str(service)])
    assert (result.stdout, result.stderr) == ("", ""), result
    return result.returncode


async def test_svok_never_supervised(tmp_path: Path) -> None:
    service = make_service(tmp_path, "never", "exec sleep 1000")
    assert svok(service) == 100
    (service / "supervise").mkdir()
    assert svok(service) == 100


@pytest.mark.parametrize("supervisor", ["real", "ours"])
async def test_svok_running_then_exited(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors, supervisor: str
) -> None:
    for tool in ("svok", "svc", "supervise"):
        peer(tool)
    service = make_service(tmp_path, supervisor, "exec sleep 1000")
    if supervisor == "real":
        process = peers.start("supervise", service)
        await peer_up(service)
    else:
        process = start_daemon(service)
        await started(service)
    assert svok(service) == 0
    svc("-dx", service)
    assert process.wait() == 0
    assert svok(service) == 100


async def test_svok_after_our_daemon_stopped_by_sigterm(tmp_path: Path, start_daemon: Any) -> None:
    peer("svok")
    service = make_service(tmp_path, "a", "exec sleep 1000")
    daemon = start_daemon(service)
    await started(service)
    assert svok(service) == 0
    assert daemon.stop() == 0
    assert svok(service) == 100

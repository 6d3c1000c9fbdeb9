"""Our ``svc -w`` waits on Debian's real supervisors: daemontools' ``supervise``, runit's ``runsv``.

The client reads the status file whatever its writer: daemontools' 18 bytes
(no run state, no readiness: up counts as ready) or runit's 20 (byte 19: 0
down, 1 run, 2 finish). Each test drives the real supervisor with our
``svc`` and checks the status bytes right after the client returned.
daemontools' supervise sleeps 1 s after each start, deaf to control, so the
deadlines are generous and no elapsed time is checked as an upper bound
except for a timeout.
"""

from __future__ import annotations

import re
from pathlib import Path

import trio

from interop.interop_support import (
    PeerSupervisors,
    control_pending,
    peer_up,
    status_bytes,
    status_pid,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import eventually, make_service, pid_alive, svc_wait

RUN = "exec sleep 1000"
GENEROUS = "15000"


async def listening(service: Path, size: int) -> bytes:
    """Wait until the peer listens on `service` and wrote a `size`-byte status; that status."""

    def ready() -> bytes | None:
        if control_pending(service) is None:
            return None
        data = status_bytes(service)
        return data if len(data) == size else None

    result = await eventually(ready, what=f"{service} supervised by the peer")
    assert isinstance(result, bytes)
    return result


# --- daemontools' supervise (18 bytes) -----------------------------------------------------


async def test_supervise_up_and_ready(tmp_path: Path, peers: PeerSupervisors) -> None:
    """``-u -wU`` under daemontools' supervise: no readiness there, so up is ready; exit 0."""
    service = make_service(tmp_path, "a", RUN, down="")
    peers.start("supervise", service)
    await listening(service, 18)
    assert status_pid(service) == 0
    result, _ = await svc_wait("-u", "-wU", "-T", GENEROUS, "a", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    pid = status_pid(service)
    assert pid and pid_alive(pid)
    assert status_bytes(service)[17:18] == b"u"


async def test_supervise_down(tmp_path: Path, peers: PeerSupervisors) -> None:
    """``-d -wd`` under daemontools' supervise returns once the status shows no pid."""
    service = make_service(tmp_path, "a", RUN)
    peers.start("supervise", service)
    pid = await peer_up(service)
    result, _ = await svc_wait("-d", "-wd", "-T", GENEROUS, "a", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert status_pid(service) == 0
    assert status_bytes(service)[17:18] == b"d"
    await eventually(lambda: not pid_alive(pid), what="old run gone")


async def test_supervise_restart(tmp_path: Path, peers: PeerSupervisors) -> None:
    """``-t -wr`` under daemontools' supervise returns once it runs again with a new pid."""
    service = make_service(tmp_path, "a", RUN)
    peers.start("supervise", service)
    old = await peer_up(service)
    result, _ = await svc_wait("-t", "-wr", "-T", GENEROUS, "a", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    new = status_pid(service)
    assert new not in (0, old)
    assert pid_alive(new)
    assert not pid_alive(old)


# --- runit's runsv (20 bytes) --------------------------------------------------------------

#: ./finish that runs about 2 s, then leaves a mark
SLOW_FINISH = "sleep 2; echo > finish-done"


async def test_runsv_finished(tmp_path: Path, peers: PeerSupervisors) -> None:
    """``-d -wD`` under runsv returns only after ./finish is done (byte 19 back to 0)."""
    service = make_service(tmp_path, "a", RUN, finish=SLOW_FINISH)
    peers.start("runsv", service)
    await peer_up(service)
    result, elapsed = await svc_wait("-d", "-wD", "-T", GENEROUS, "a", cwd=tmp_path)
    data = status_bytes(service)
    assert (result.returncode, result.stderr) == (0, "")
    assert (status_pid(service), data[19]) == (0, 0)
    assert (service / "finish-done").exists()
    assert elapsed >= 1.5, f"returned after {elapsed:.2f} s while ./finish sleeps 2 s"


async def test_runsv_down_does_not_wait_for_finish(tmp_path: Path, peers: PeerSupervisors) -> None:
    """``-d -wd`` under runsv returns while ./finish runs (byte 19 is 2, finish's pid shown)."""
    service = make_service(tmp_path, "a", RUN, finish=SLOW_FINISH)
    peers.start("runsv", service)
    run_pid = await peer_up(service)
    result, _ = await svc_wait("-d", "-wd", "-T", GENEROUS, "a", cwd=tmp_path)
    data = status_bytes(service)
    assert (result.returncode, result.stderr) == (0, "")
    assert data[19] == 2
    assert status_pid(service) not in (0, run_pid)
    assert not (service / "finish-done").exists()
    await eventually(lambda: status_bytes(service)[19] == 0, what="finish done")


async def test_runsv_up(tmp_path: Path, peers: PeerSupervisors) -> None:
    """``-u -wu`` under runsv on a normally-down service: exit 0 with byte 19 = 1 (run)."""
    service = make_service(tmp_path, "a", RUN, down="")
    peers.start("runsv", service)
    await listening(service, 20)
    assert status_pid(service) == 0
    result, _ = await svc_wait("-u", "-wu", "-T", GENEROUS, "a", cwd=tmp_path)
    data = status_bytes(service)
    assert (result.returncode, result.stderr) == (0, "")
    assert data[19] == 1
    pid = status_pid(service)
    assert pid and pid_alive(pid)


async def test_runsv_timeout(tmp_path: Path, peers: PeerSupervisors) -> None:
    """``-wu -T 700`` under runsv on a service that stays down: 99, its state named, untouched."""
    service = make_service(tmp_path, "a", RUN, down="")
    peers.start("runsv", service)
    before = await listening(service, 20)
    result, elapsed = await svc_wait("-wu", "-T", "700", "a", cwd=tmp_path)
    assert result.returncode == 99, result
    assert 0.6 <= elapsed < 10.0, f"-T 700 returned after {elapsed:.2f} s"
    assert re.fullmatch(
        r"svc: warning: timed out waiting for a to be up: down \d+ seconds\n", result.stderr
    ), result.stderr
    await trio.sleep(0.3)
    assert status_bytes(service) == before

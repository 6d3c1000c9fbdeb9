"""s6's clients against our daemon, as against daemontools' real ``supervise``.

``s6-svc`` only writes bytes to ``supervise/control``, so ``-d``/``-u``/``-p``/
``-c``/``-x`` must be honoured. s6's status readers decide "running" from an
fcntl lock on ``supervise/lock``, which a flock-based supervisor (daemontools,
runit, ours) does not take: they call every one of them not running. Each test
runs the same way against both supervisors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interop.interop_support import (
    PeerSupervisors,
    normalise,
    peer_up,
    proc_state,
    run_client,
    status_bytes,
    status_pid,
    svstat,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import eventually, make_service, peer, pid_alive, started


def s6_svc(*args: str | Path) -> tuple[int, str]:
    result = run_client([peer("s6-svc"), *map(str, args)])
    assert result.stdout == ""
    return result.returncode, result.stderr


async def _start(
    supervisor: str, service: Path, start_daemon: Any, peers: PeerSupervisors
) -> tuple[Any, int]:
    if supervisor == "real":
        process = peers.start("supervise", service)
        return process, await peer_up(service)
    process = start_daemon(service)
    return process, (await started(service)).pid


@pytest.mark.parametrize("supervisor", ["real", "ours"])
async def test_s6_svc_down_up_pause_continue_exit(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors, supervisor: str
) -> None:
    for tool in ("s6-svc", "svstat", "supervise"):
        peer(tool)
    service = make_service(tmp_path, "a", "exec sleep 1000")
    process, first = await _start(supervisor, service, start_daemon, peers)

    assert s6_svc("-d", service) == (0, "")
    await eventually(lambda: status_pid(service) == 0 and not pid_alive(first), what="down")
    assert status_bytes(service)[17] == ord("d")
    assert normalise(svstat(tmp_path, "a")) == "a: down N seconds, normally up\n"

    assert s6_svc("-u", service) == (0, "")
    second = await eventually(lambda: status_pid(service), what="up again")
    assert isinstance(second, int)
    assert second != first
    assert normalise(svstat(tmp_path, "a")) == "a: up (pid P) N seconds\n"

    assert s6_svc("-p", service) == (0, "")
    await eventually(lambda: proc_state(second) == "T", what="stopped by -p")
    await eventually(lambda: status_bytes(service)[16] == 1, what="paused byte")
    assert s6_svc("-c", service) == (0, "")
    await eventually(lambda: proc_state(second) not in ("T", "?"), what="continued by -c")
    await eventually(lambda: status_bytes(service)[16] == 0, what="paused byte cleared")

    assert s6_svc("-dx", service) == (0, "")
    assert process.wait() == 0
    assert not pid_alive(second)
    assert s6_svc("-u", service) == (
        100,
        f"s6-svc: fatal: : unable to control {service}: supervisor not listening\n",
    )


@pytest.mark.parametrize("supervisor", ["real", "ours"])
async def test_s6_status_readers_see_a_flock_supervisor_as_not_running(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors, supervisor: str
) -> None:
    for tool in ("s6-svok", "s6-svstat", "supervise"):
        peer(tool)
    service = make_service(tmp_path, "a", "exec sleep 1000")
    await _start(supervisor, service, start_daemon, peers)

    result = run_client([peer("s6-svok"), str(service)])
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")
    result = run_client([peer("s6-svstat"), str(service)])
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"s6-svstat: fatal: : unable to read status for {service}: s6-supervise not running\n",
    )

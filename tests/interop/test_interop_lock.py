"""``supervise/lock``: our daemon and the real supervisors exclude each other.

daemontools' ``supervise`` and runit's ``runsv`` take ``flock(LOCK_EX|LOCK_NB)``
on ``supervise/lock`` and give up with exit 111 if it is held. Started on a
directory our daemon holds, each must refuse with its own message; our daemon
started on a directory one of them holds must refuse it too. Either way the
supervisor already there keeps its service and its status file untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interop.interop_support import (
    PeerSupervisors,
    control_pending,
    peer_up,
    status_bytes,
    status_pid,
    svstat,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import make_service, peer, pid_alive, started, supervisor_listening

#: What each peer says when the lock is held (DIR as given on its command line).
PEER_REFUSAL = {
    "supervise": "supervise: fatal: unable to acquire {dir}/supervise/lock: temporary failure\n",
    "runsv": "runsv {dir}: fatal: unable to lock supervise/lock: temporary failure\n",
}


@pytest.mark.parametrize("program", ["supervise", "runsv"])
async def test_peer_refuses_a_directory_our_daemon_holds(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors, program: str
) -> None:
    peer(program)
    service = make_service(tmp_path, "held", "exec sleep 1000")
    start_daemon(service)
    first = await started(service)
    before = status_bytes(service)

    intruder = peers.start(program, service)
    assert intruder.wait(10) == 111
    assert intruder.output() == PEER_REFUSAL[program].format(dir=service)

    # Ours is undisturbed: same service, same status, still listening.
    assert status_bytes(service) == before
    assert pid_alive(first.pid)
    assert supervisor_listening(service)
    assert control_pending(service) == 0
    assert svstat(service.parent, service.name).startswith(f"held: up (pid {first.pid}) ")


@pytest.mark.parametrize("program", ["supervise", "runsv"])
async def test_our_daemon_refuses_a_directory_a_peer_holds(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors, program: str
) -> None:
    peer(program)
    peer("svstat")
    service = make_service(tmp_path, "held", "exec sleep 1000")
    holder = peers.start(program, service)
    pid = await peer_up(service)
    before = status_bytes(service)

    daemon = start_daemon(service)
    assert daemon.wait() == 111, daemon.stderr()
    assert f"unable to acquire {service}/supervise/lock" in daemon.stderr()

    assert status_bytes(service) == before, "our daemon wrote a status it does not own"
    assert holder.process.poll() is None, f"{program} died: {holder.output()!r}"
    assert status_pid(service) == pid and pid_alive(pid)
    assert supervisor_listening(service)
    assert svstat(service.parent, service.name).startswith(f"held: up (pid {pid}) ")

"""Signal commands reach the service, as they do under the real supervisors.

The service traps every catchable signal the control letters send and appends
its name to ``sigs`` (in the service directory); its main loop sleeps only
0.1 s at a time, since a shell runs a trap only once its foreground ``sleep``
returns. Signals go to the main pid only, under every supervisor.

daemontools' letters are sent with the real ``/usr/bin/svc`` to our daemon and
to the real ``supervise`` at once, and must leave the same lines. ``q 1 2``
(not in daemontools' ``svc``) are written to ``supervise/control`` directly and
compared with runit's ``runsv``, which honours them; ``w`` (WINCH) is
daemontools-encore's, which is not installed: no installed peer acts on it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from interop.interop_support import (
    PeerSupervisors,
    peer_up,
    proc_state,
    release,
    status_bytes,
    status_pid,
    svc,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import eventually, make_service, peer, send, started

TRAPPED = ["HUP", "ALRM", "INT", "TERM", "QUIT", "USR1", "USR2", "WINCH", "CONT"]
RUN = (
    f'for s in {" ".join(TRAPPED)}; do trap "echo $s >> sigs" $s; done\n'
    "echo ready >> sigs\n"
    "while :; do sleep 0.1; done"
)


def _stopped(pid: int) -> bool:
    return proc_state(pid) == "T"


def _paused(service: Path) -> bool:
    return status_bytes(service)[16] == 1


def _restarted(service: Path, old_pid: int) -> bool:
    return status_pid(service) not in (0, old_pid)


def _lines(service: Path) -> list[str]:
    try:
        return (service / "sigs").read_text().splitlines()
    except FileNotFoundError:
        return []


async def _ready(service: Path) -> int:
    """Wait until the service's traps are set; its pid."""
    await eventually(lambda: _lines(service)[-1:] == ["ready"], what=f"{service} traps set")
    return status_pid(service)


async def _expect(services: list[Path], lines: list[str], what: str) -> None:
    for service in services:

        def got(service: Path = service) -> bool:
            assert _lines(service) == lines, f"{service}/sigs: {_lines(service)}"
            return True

        await eventually(got, what=f"{what}: {service}")


async def test_svc_signal_letters_reach_the_service(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors
) -> None:
    for tool in ("svc", "supervise"):
        peer(tool)
    real = make_service(tmp_path / "real", "s", RUN)
    ours = make_service(tmp_path / "ours", "s", RUN)
    both = [real, ours]
    peers.start("supervise", real)
    start_daemon(ours)
    await peer_up(real)
    await started(ours)
    try:
        await _signal_letters(both)
    finally:
        release(ours)


async def _signal_letters(both: list[Path]) -> None:
    pids = [await _ready(service) for service in both]
    expected = ["ready"]

    for letter, name in [("h", "HUP"), ("a", "ALRM"), ("i", "INT"), ("t", "TERM")]:
        svc(f"-{letter}", *both)
        expected.append(name)
        await _expect(both, expected, f"svc -{letter}")
    assert [status_pid(service) for service in both] == pids, "a trapped signal restarted it"

    svc("-p", *both)
    for service, pid in zip(both, pids, strict=True):
        await eventually(partial(_stopped, pid), what=f"{service} stopped")
        await eventually(partial(_paused, service), what=f"{service} paused byte")
    svc("-c", *both)
    expected.append("CONT")
    await _expect(both, expected, "svc -c")
    for pid in pids:
        assert proc_state(pid) != "T"

    svc("-k", *both)
    for service, pid in zip(both, pids, strict=True):
        await eventually(
            partial(_restarted, service, pid), what=f"{service} restarted after svc -k"
        )
    expected.append("ready")  # SIGKILL cannot be trapped: no line, a new start
    await _expect(both, expected, "svc -k")


async def test_runit_signal_bytes_reach_the_service(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors
) -> None:
    peer("runsv")
    runit = make_service(tmp_path / "runit", "s", RUN)
    ours = make_service(tmp_path / "ours", "s", RUN)
    peers.start("runsv", runit)
    start_daemon(ours)
    await peer_up(runit)
    await started(ours)
    try:
        await _runit_bytes(runit, ours)
    finally:
        release(ours)


async def _runit_bytes(runit: Path, ours: Path) -> None:
    both = [runit, ours]
    pids = [await _ready(service) for service in both]
    expected = ["ready"]

    for byte, name in [(b"q", "QUIT"), (b"1", "USR1"), (b"2", "USR2")]:
        for service in both:
            send(service, byte)
        expected.append(name)
        await _expect(both, expected, f"control byte {byte!r}")

    # w: SIGWINCH (daemontools-encore's svc -w); runsv and daemontools ignore it.
    send(ours, b"w")
    await _expect([ours], [*expected, "WINCH"], "control byte b'w'")
    assert [status_pid(service) for service in both] == pids

"""``svstat -o`` speaks s6-svstat's language: same field names, same spellings of values.

One service under Debian's ``s6-supervise`` and one like it under our daemon,
in the same states (up; down after ``d``): ``s6-svstat -o`` and our
``svstat -o`` print the same line for the fields whose values do not depend on
time or pid. Two differences by design: stamps (s6 labels real TAI, we
daemontools' TAI), and ``ready`` for a service without ``notification-fd``, which
Debian's s6 2.11 calls false and we call ready once up, so that ``svc -wU`` works
against supervisors that cannot report readiness (README, svstat(8)).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from interop.interop_support import PeerSupervisors, run_client
from interop.interop_support import peers_fixture as peers_fixture  # the `peers` fixture
from support import client, eventually, make_service, peer, read_status, send, started

FIELDS = "up,wantedup,normallyup,paused"


def s6_line(service: Path) -> str:
    result = run_client([peer("s6-svstat"), "-o", FIELDS, str(service)])
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout


def our_line(service: Path) -> str:
    result = client("svstat", "-o", FIELDS, service)
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout


UP = "true true true false\n"


@pytest.fixture
async def pair(
    tmp_path: Path, peers: PeerSupervisors, start_daemon: Any
) -> AsyncIterator[tuple[Path, Path]]:
    """(theirs, ours): one service up under s6-supervise, one like it up under our daemon.

    At teardown s6-supervise must exit 0 on ``dx``.
    """
    theirs = make_service(tmp_path / "s6", "a", "exec sleep 1000")
    ours = make_service(tmp_path / "ours", "a", "exec sleep 1000")
    supervisor = peers.start("s6-supervise", theirs)
    start_daemon(ours)
    await started(ours)
    await eventually(lambda: s6_line(theirs) == UP, what="s6 up")
    yield theirs, ours
    send(theirs, b"dx")
    assert supervisor.wait() == 0, supervisor.output()


async def test_same_fields_up_and_down(pair: tuple[Path, Path]) -> None:
    """Up: ``true true true false``; after ``d``: ``false false true false``."""
    theirs, ours = pair
    assert our_line(ours) == UP
    send(theirs, b"d")
    send(ours, b"d")
    down = "false false true false\n"
    await eventually(lambda: s6_line(theirs) == down, what="s6 down")
    await eventually(lambda: read_status(ours).pid == 0, what="ours down")
    assert our_line(ours) == down


async def test_ready_differs_without_notification_fd(pair: tuple[Path, Path]) -> None:
    """The one documented difference: up without notification-fd is ready for us, not for s6."""
    theirs, ours = pair
    ready = run_client([peer("s6-svstat"), "-o", "up,ready", str(theirs)]).stdout
    assert ready == "true false\n"
    assert client("svstat", "-o", "up,ready", ours).stdout == "true true\n"

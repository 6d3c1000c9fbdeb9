"""qm-stop and qm-start drive Debian's daemontools ``supervise``, one per directory.

The tree is integration/test_qm.py's (`Tree`): qmail-smtpd and qmail-send,
each with a log/, stand-in run scripts appending their events to one file.
Each of the four directories gets its own real ``/usr/bin/supervise`` (whose
18-byte status has no run state: up counts as ready). daemontools' supervise
sleeps 1 s after each start, deaf to control meanwhile, so nothing here is
timed but the deadline, and that loosely.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from integration.test_qm import Tree, check_nothing_lost, down, index, qm
from interop.interop_support import PeerSupervisors, peer_up
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import eventually, pid_alive

TAGS = ("smtpd", "send", "smtpd log", "send log")


async def under_daemontools(tree: Tree, peers: PeerSupervisors) -> dict[str, int]:
    """A real supervise on each directory, every script up (its trap set); the pids."""
    for tag in TAGS:
        peers.start("supervise", tree.dirs[tag])
    pids = {}
    for tag in TAGS:
        pids[tag] = await peer_up(tree.dirs[tag])
        await eventually(lambda tag=tag: f"{tag} up" in tree.events(), what=f"{tag} up")
    return pids


async def test_qm_stop_order_under_daemontools(tmp_path: Path, peers: PeerSupervisors) -> None:
    """qm-stop with daemontools: qmail-smtpd down, then qmail-send (its delivery finished),
    then both logs; nothing accepted lost; every status file says pid 0; exit 0."""
    tree = Tree(tmp_path, intake=("smtpd",))
    await under_daemontools(tree, peers)
    await eventually(lambda: len(list(tree.delivered.iterdir())) >= 2, what="2 deliveries")
    mark = len(tree.events())

    result, _ = await qm("qm-stop", tree.svdir)

    assert (result.returncode, result.stderr) == (0, "")
    events = tree.events()[mark:]
    send_down = index(events, "send down")
    assert index(events, "smtpd down") < send_down, events
    for log in ("smtpd log down", "send log down"):
        assert index(events, log) > send_down, events
    assert "helper TERM" not in tree.events(), "d signalled qmail-send's helper"
    for tag in TAGS:
        assert down(tree.dirs[tag]), tag
    check_nothing_lost(tree)


async def test_qm_start_order_under_daemontools(tmp_path: Path, peers: PeerSupervisors) -> None:
    """qm-start after qm-stop with daemontools: logs up, then qmail-send, then qmail-smtpd."""
    tree = Tree(tmp_path, intake=("smtpd",))
    await under_daemontools(tree, peers)
    stopped, _ = await qm("qm-stop", tree.svdir)
    assert stopped.returncode == 0, stopped.stderr
    mark = len(tree.events())

    result, _ = await qm("qm-start", tree.svdir)

    assert (result.returncode, result.stderr) == (0, "")
    for tag in TAGS:
        await peer_up(tree.dirs[tag])
        await eventually(lambda tag=tag: f"{tag} up" in tree.events()[mark:], what=f"{tag} up")
    events = tree.events()[mark:]
    send_up = index(events, "send up")
    for log in ("smtpd log up", "send log up"):
        assert index(events, log) < send_up, events
    assert index(events, "smtpd up") > send_up, events


async def test_deadline_kills_under_daemontools(tmp_path: Path, peers: PeerSupervisors) -> None:
    """-t 2 with daemontools and a qmail-send that ignores TERM: exit 1, qmail-send named as
    killed, its process gone (daemontools' k is SIGKILL), the logs brought down anyway."""
    tree = Tree(tmp_path, intake=("smtpd",), sender_ignores_term=True)
    pids = await under_daemontools(tree, peers)

    result, seconds = await qm("qm-stop", "-t", "2", tree.svdir)

    assert result.returncode == 1, result.stderr
    assert seconds < 15, seconds
    assert f"qm-stop: warning: deadline: killed {tree.dirs['send']} (up" in result.stderr
    assert "made again" in result.stderr
    await eventually(lambda: not pid_alive(pids["send"]), what="qmail-send killed")
    for tag in TAGS:
        await eventually(partial(down, tree.dirs[tag]), what=f"{tag} down")

"""Who may control a service: its owner, and a group only when the administrator says so.

Real users, not mode arithmetic: the clients run as ``nobody`` (uid 65534)
through ``setpriv``, with or without the supplementary group the service was
opened to. The clients are Debian's C ``svc``/``svok``/``svstat``, so nothing of
ours (a virtual environment ``nobody`` may not be able to read) is in the way.

The documented way to let group G control a service (as s6-svperms does):

    chgrp G DIR/supervise DIR/supervise/control DIR/supervise/ok
    chmod 750 DIR/supervise && chmod 620 DIR/supervise/control DIR/supervise/ok

The daemon keeps those modes when it starts again; permissions for others
are taken away whoever set them.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import eventually, make_service, peer, read_status, started

NOBODY = 65534
#: A group `nobody` is not in (Debian's ``staff``); the tests give it as a supplementary group.
GROUP = 50


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A directory `nobody` can reach (pytest's tmp_path is under a 0700 directory)."""
    root = Path(tempfile.mkdtemp(prefix="perm-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _as_nobody(*argv: str, groups: tuple[int, ...] = ()) -> subprocess.CompletedProcess[str]:
    who = ["--groups=" + ",".join(map(str, groups))] if groups else ["--clear-groups"]
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", *who, *argv],
        capture_output=True, text=True, timeout=30, check=False,
    )


def _open_to_group(service: Path) -> None:
    """supervise(8)'s recipe (EXAMPLES), done as an administrator would."""
    sup = service / "supervise"
    for path in (sup, sup / "control", sup / "ok"):
        os.chown(path, -1, GROUP)
    sup.chmod(0o750)
    (sup / "control").chmod(0o620)
    (sup / "ok").chmod(0o620)


async def test_nobody_cannot_control_or_read_roots_service(
    open_root: Path, start_daemon: Any
) -> None:
    service = make_service(open_root, "s", "exec sleep 1000")
    start_daemon(service)
    pid = (await started(service)).pid
    sup = service / "supervise"
    assert stat.S_IMODE(sup.stat().st_mode) == 0o700 and sup.stat().st_uid == 0
    for fifo in ("control", "ok"):
        assert stat.S_IMODE((sup / fifo).stat().st_mode) == 0o600
    refused = _as_nobody(peer("svc"), "-d", str(service))
    assert "unable to control" in refused.stderr and "access denied" in refused.stderr
    assert _as_nobody(peer("svok"), str(service)).returncode != 0
    # not even the control FIFO's name can be reached to read it
    sneak = _as_nobody("dd", f"if={sup / 'control'}", "of=/dev/null", "count=1", "iflag=nonblock")
    assert sneak.returncode != 0 and "Permission denied" in sneak.stderr
    assert read_status(service).pid == pid


async def test_a_group_may_control_when_opened_to_it(open_root: Path, start_daemon: Any) -> None:
    service = make_service(open_root, "g", "exec sleep 1000")
    daemon = start_daemon(service)
    pid = (await started(service)).pid
    _open_to_group(service)
    outsider = _as_nobody(peer("svc"), "-d", str(service))
    assert "access denied" in outsider.stderr
    member = _as_nobody(peer("svc"), "-d", str(service), groups=(GROUP,))
    assert member.returncode == 0, member.stderr
    await eventually(lambda: read_status(service).pid == 0, what="down by the group's svc")
    assert _as_nobody(peer("svok"), str(service), groups=(GROUP,)).returncode == 0
    seen = _as_nobody(peer("svstat"), str(service), groups=(GROUP,)).stdout
    assert seen.startswith(f"{service}: down ") and "normally up" in seen
    # a new daemon on the directory keeps what the administrator set
    daemon.stop()
    start_daemon(service)
    await eventually(lambda: _as_nobody(peer("svok"), str(service), groups=(GROUP,))
                     .returncode == 0, what="new daemon listening")
    sup = service / "supervise"
    assert stat.S_IMODE((sup / "control").stat().st_mode) == 0o620
    assert (sup / "control").stat().st_gid == GROUP
    assert _as_nobody(peer("svc"), "-u", str(service), groups=(GROUP,)).returncode == 0
    assert (await started(service)).pid != pid


async def test_permissions_for_others_are_taken_away(open_root: Path, start_daemon: Any) -> None:
    """A control FIFO left world-writable (or set-id) is brought back to owner and group."""
    service = make_service(open_root, "w", "exec sleep 1000", down="")
    sup = service / "supervise"
    sup.mkdir(mode=0o700)
    os.mkfifo(sup / "control")
    (sup / "control").chmod(0o4666)
    start_daemon(service)
    await eventually(lambda: stat.S_IMODE((sup / "control").stat().st_mode) == 0o660,
                     what="control brought to 0660")
    # ok is made after control is put right: wait for it, then check its mode
    await eventually(lambda: (sup / "ok").exists(), what="ok made")
    assert stat.S_IMODE((sup / "ok").stat().st_mode) == 0o600

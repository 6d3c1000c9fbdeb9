"""svstat --check against our running daemon: the classic lines, a summary, and 0 or 2.

(1, WARNING, needs a service caught between two runs: the unit tests judge that view.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supervise.status import ExtraFlag
from support import client, eventually, make_service, read_extra, started


async def test_check_summarises_and_exits_as_a_monitoring_plugin(
    tmp_path: Path, start_daemon: Any
) -> None:
    up = make_service(tmp_path, "up", "exec sleep 1000")
    spare = make_service(tmp_path, "spare", "exec sleep 1000", down="")
    broken = make_service(tmp_path, "broken", "exit 1", finish="exit 125")
    make_service(tmp_path, "orphan", "exec sleep 1000")  # no supervisor
    start_daemon(up, spare, broken)
    await started(up)
    await eventually(lambda: read_extra(broken).flags & ExtraFlag.FAILED, what="failed for good")

    fine = client("svstat", "--check", "up", "spare", cwd=tmp_path)
    assert fine.returncode == 0, fine.stderr
    lines = fine.stdout.splitlines()
    assert lines[0].startswith("up: up (pid ") and lines[1].startswith("spare: down ")
    assert lines[2] == ("OK: 1 up, 1 down, 0 failed permanently, 0 backing off,"
                        " 0 not supervised | up=1 down=1 failed=0 backingoff=0 unsupervised=0")

    bad = client("svstat", "--check", "up", "spare", "broken", "orphan", cwd=tmp_path)
    assert bad.returncode == 2, bad.stderr
    lines = bad.stdout.splitlines()
    assert lines[3] == "orphan: unable to open supervise/ok: file does not exist"
    assert lines[4] == (
        "CRITICAL: 1 up, 1 down, 1 failed permanently, 0 backing off, 1 not supervised;"
        " critical: broken orphan | up=1 down=1 failed=1 backingoff=0 unsupervised=1")

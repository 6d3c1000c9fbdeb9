"""The demo tree `make run` supervises does what the README says, under our svscan.

services/demo is copied to tmp_path (as `make run` copies it to .run/demo) and
run by svscan: the clock's lines reach its logger, svlog, which stamps them into
log/main/current (read back with tai64nlocal, as the README shows), the flaky service is
restarted after each crash with its `finish` run, the standby service stays
down until `u`, and the ready service becomes ready through its notification fd.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from supervise import status
from support import Daemon, eventually, read_extra, read_status, send, started

DEMO = Path(__file__).resolve().parents[2] / "services" / "demo"


def demo_tree(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root, symlinks=True)
    return root


def tai64nlocal(bin_dir: Path, log: Path) -> str:
    """What the README's `tai64nlocal < .run/demo/clock/log/main/current` prints."""
    with log.open("rb") as stdin:
        return subprocess.run([str(bin_dir / "tai64nlocal")], stdin=stdin, capture_output=True,
                              text=True, check=True, timeout=30).stdout


async def test_demo_tree_runs_as_the_readme_says(
    tmp_path: Path, start_svscan: Callable[..., Daemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    """clock logs through its pipe, flaky restarts, standby waits for `u`, ready gets ready."""
    bin_dir = Path(sys.executable).parent
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")  # as `make run`: svlog on PATH
    root = demo_tree(tmp_path)
    daemon = start_svscan(root)
    await started(root / "clock")
    await started(root / "clock" / "log")
    current = root / "clock" / "log" / "main" / "current"
    await eventually(lambda: "clock: tick 2" in current.read_text(), what="ticks in current")
    assert re.match(r"@4000[0-9a-f]{20} clock: starting \(pid \d+\)$",
                    current.read_text().splitlines()[0])
    local = tai64nlocal(bin_dir, current)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} clock: tick 1$",
                    local.splitlines()[1])
    assert read_status(root / "standby").run_state is status.RunState.DOWN

    first = (await started(root / "flaky")).pid
    await eventually(
        lambda: read_status(root / "flaky").pid not in (0, first), timeout=30, what="restart"
    )
    await eventually(
        lambda: "./run ended with code 1 (signal 0)" in daemon.stderr(), what="finish's line"
    )

    await eventually(
        lambda: read_extra(root / "ready").flags & status.ExtraFlag.READY, what="ready"
    )
    send(root / "standby", b"u")
    await started(root / "standby")

    assert daemon.stop() == 0
    for name in ("clock", "flaky", "ready", "standby", "clock/log"):
        assert read_status(root / name).run_state is status.RunState.DOWN, name

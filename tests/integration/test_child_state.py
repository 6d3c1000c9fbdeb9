"""Every program the daemons start begins in a pristine process state, as under C supervisors.

No signal ignored or blocked (glibc's ``posix_spawn`` would leave its own
signals 32 and 33 ignored in every child if asked through Python), only fds
0-2, the daemon's umask: for ./run and ./finish under ``supervise``, for ./run
and its logger under ``svscan``, and for a ./run started after a SIGHUP
re-exec. The same service under Debian's ``supervise``:
``tests/interop/test_interop_child_state.py``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from child_state import PRISTINE, RUN, recorded
from child_state import clean_parent as clean_parent  # the fixture
from supervise.reexec import ENV
from support import eventually, make_service, read_status, started

pytestmark = pytest.mark.usefixtures("clean_parent")

#: ./run that exits at once the first time, so ./finish runs.
RUN_ONCE = "test -e ran && exec sleep 1000; : > ran"
FINISH = "echo $$ > finish-pid; exec sleep 1000"
LOG = "echo $$ > log-pid; exec cat > /dev/null"


def reexecuted(pid: int) -> bool:
    """Whether the image of `pid` is one a SIGHUP exec'ed (its environment names the handover)."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f"{ENV}=".encode() in f.read()


async def test_run_and_finish_under_supervise(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "svc", RUN_ONCE, finish=FINISH)
    start_daemon(service)
    finish = await recorded(service / "finish-pid", "sleep")
    os.kill(int((service / "finish-pid").read_text()), signal.SIGTERM)  # else killed at 5 s
    assert finish == PRISTINE


async def test_run_and_logger_under_svscan(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    service = make_service(root, "svc", RUN)
    make_service(service, "log", LOG)
    start_svscan(root)
    assert await recorded(service / "run-pid", "sleep") == PRISTINE
    assert await recorded(service / "log" / "log-pid", "cat") == PRISTINE


async def test_run_started_after_a_sighup_reexec(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    service = make_service(root, "svc", RUN)
    daemon = start_svscan(root)
    first = await started(service)
    daemon.signal(signal.SIGHUP)
    await eventually(lambda: reexecuted(daemon.pid), what="the re-exec")
    (service / "run-pid").unlink()
    os.kill(first.pid, signal.SIGKILL)  # the re-executed daemon starts the next one
    state = await recorded(service / "run-pid", "sleep")
    assert read_status(service).pid != first.pid
    assert state == PRISTINE

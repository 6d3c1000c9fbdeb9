"""supervise.keeper: a daemon whose task tree died keeps its children until told to stop.

A small program stands for the dead daemon: it starts a `sleep` child and hands over
to `keeper.keep` with a program that cannot be executed, so every re-exec fails.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from support import eventually, pid_alive

PROGRAM = """
import subprocess, sys
from cmdline import out
from supervise import healing, keeper
out.begin("svscan")
child = subprocess.Popen(["sleep", "1000"])
print(child.pid, flush=True)
sys.exit(keeper.keep("RuntimeError('test')", [sys.argv[1]], healing.History()))
"""


def start(tmp_path: Path, errors: Path) -> subprocess.Popen[bytes]:
    with open(errors, "wb") as output:
        return subprocess.Popen(
            [sys.executable, "-c", PROGRAM, str(tmp_path / "gone")], stdout=subprocess.PIPE,
            stderr=output,
        )


async def test_keeper_retries_reaps_and_stops_its_children(tmp_path: Path) -> None:
    errors = tmp_path / "err"
    daemon = start(tmp_path, errors)
    try:
        assert daemon.stdout is not None
        child = int(daemon.stdout.readline())
        await eventually(lambda: "trying again in 1 seconds" in errors.read_text(),
                         what="a failed re-exec")
        text = errors.read_text()
        assert text.startswith(
            "svscan: alert: the daemon failed: RuntimeError('test'): re-executing; the new "
            "image takes back every service by its pid\n"), text
        await eventually(lambda: "trying again in 2 seconds" in errors.read_text(),
                         what="a second try, backing off")
        assert pid_alive(child) and daemon.poll() is None
        daemon.send_signal(signal.SIGUSR1)
        await eventually(lambda: "svscan: state: keeper pid" in errors.read_text(),
                         what="the state line")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 111
        assert "stopping every service" in errors.read_text()
        assert not pid_alive(child)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if daemon.stdout is not None:
            daemon.stdout.close()

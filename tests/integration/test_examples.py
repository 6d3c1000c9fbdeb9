"""examples/ and the Dockerfile: each way of running svscan for real is checked here.

- examples/svscan.service passes ``systemd-analyze verify`` (with ExecStart pointed at
  this installation's svscan: verify checks that the program exists), and keeps the three
  settings the ordered shutdown and reloads need.
- examples/inittab is one well-formed inittab entry that respawns svscan.
- The Dockerfile's ENTRYPOINT runs, as written, as PID 1 of a new PID namespace
  (``unshare --pid --fork --mount-proc``, what ``docker run`` gives it), on a copy of the
  tree the Dockerfile copies to /etc/service: SIGTERM (``docker stop``) brings the
  service down, then its logger (which still logs the service's last line), and svscan
  exits 0 within docker's 10 s; when the ``essential`` service fails for good, svscan's
  exit code, the container's, is the service's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_guard import unavailable
from support import PATIENCE, Daemon, client, eventually, started

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
NAMESPACE = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc"]
DOCKER_STOP_GRACE = 10.0  # seconds `docker stop` waits before SIGKILL


def test_systemd_unit_verifies_and_keeps_the_ordered_stop(tmp_path: Path) -> None:
    if not os.access(SYSTEMD_ANALYZE, os.X_OK):
        unavailable(f"{SYSTEMD_ANALYZE} (apt-get install systemd)")
    text = (EXAMPLES / "svscan.service").read_text()
    settings = {line.split("=", 1)[0]: line.split("=", 1)[1]
                for line in text.splitlines() if "=" in line and not line.startswith("#")}
    assert settings["KillMode"] == "mixed"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["Restart"] == "always"
    assert settings["ExecStart"].startswith("/usr/local/bin/svscan ")
    unit = tmp_path / "svscan.service"
    unit.write_text(text.replace("/usr/local/bin/svscan", str(BIN / "svscan")))
    verified = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True,
                              text=True, timeout=120, check=False)
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_inittab_line_respawns_svscan() -> None:
    entries = [line for line in (EXAMPLES / "inittab").read_text().splitlines()
               if line and not line.startswith("#")]
    assert len(entries) == 1
    ident, levels, action, command = entries[0].split(":", 3)
    assert re.fullmatch(r"[A-Za-z0-9]{1,4}", ident) and levels.isdigit()
    assert action == "respawn"
    assert command.startswith("/usr/local/bin/svscan -s /etc/service ")


# --- the container --------------------------------------------------------------------


def _dockerfile() -> tuple[list[str], Path]:
    """(the ENTRYPOINT, the directory the Dockerfile copies to /etc/service)."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    entrypoint = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT "))[11:])
    copy = next(line for line in lines if line.startswith("COPY ") and
                line.endswith(" /etc/service"))
    return entrypoint, ROOT / copy.split()[1]


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _status(pid: int, key: str) -> list[str]:
    """The words of line `key` of /proc/PID/status (none if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((line.split()[1:] for line in status if line.startswith(key)), [])
    except OSError:
        return []


class Container:
    """The ENTRYPOINT as PID 1 of a PID namespace, on a copy of the image's /etc/service."""

    def __init__(self, tmp_path: Path):
        entrypoint, tree = _dockerfile()
        assert entrypoint == ["svscan", "/etc/service"]
        self.root = tmp_path / "etc-service"
        shutil.copytree(tree, self.root, symlinks=True)
        program = [str(BIN / entrypoint[0])]  # the image's PATH finds svscan in its venv
        self.unshare = Daemon(self.root, program=[*NAMESPACE, *program], cwd=tmp_path)
        self.init = 0

    async def start(self) -> None:
        """Wait for svscan, PID 1 inside, and for the app and its logger to be up."""

        def child() -> int:
            assert self.unshare.process.poll() is None, self.unshare.stderr()
            kids = [pid for pid in _pids() if _status(pid, "PPid:") == [str(self.unshare.pid)]]
            return kids[0] if kids else 0

        init = await eventually(child, what="svscan inside the namespace")
        assert isinstance(init, int)
        assert _status(init, "NSpid:")[-1] == "1", "svscan is not PID 1 in its namespace"
        self.init = init
        await started(self.root / "app" / "log")
        await started(self.root / "app")

    def wait(self, timeout: float) -> int:
        return self.unshare.process.wait(timeout)

    def stop(self) -> None:
        """Teardown: SIGTERM to PID 1 (unshare passes nothing on), KILL if it lingers."""
        if self.unshare.process.poll() is not None:
            return
        if self.init:
            os.kill(self.init, signal.SIGTERM)
        try:
            self.unshare.process.wait(PATIENCE)
        except subprocess.TimeoutExpired:
            if self.init:
                os.kill(self.init, signal.SIGKILL)
            self.unshare.process.wait()


@pytest.fixture
def container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    probe = subprocess.run([*NAMESPACE, "/bin/true"], capture_output=True, text=True,
                           timeout=60, check=False)
    if probe.returncode != 0:
        unavailable(f"PID namespaces: {probe.stderr.strip()!r}")
    monkeypatch.setenv("PATH", f"{BIN}:/usr/bin:/bin")  # the image's ENV PATH
    box = Container(tmp_path)
    try:
        yield box
    finally:
        box.stop()


async def test_docker_stop_stops_the_tree_in_order_within_10_s(container: Container) -> None:
    await container.start()
    log = container.root / "app" / "log" / "main" / "current"
    await eventually(lambda: "app: up" in log.read_text(), what="the app's first line")
    began = time.monotonic()
    os.kill(container.init, signal.SIGTERM)  # docker stop
    assert container.wait(DOCKER_STOP_GRACE) == 0, container.unshare.stderr()
    assert time.monotonic() - began < DOCKER_STOP_GRACE
    assert log.read_text().splitlines()[-1].endswith(" app: stopping")


async def test_essential_service_exit_code_becomes_the_containers(container: Container) -> None:
    await container.start()
    app = container.root / "app"
    pid = int((app / "supervise" / "pid").read_text())
    assert pid > 0
    sent = client("svc", "-1", app)  # USR1: the app fails with exit code 3
    assert sent.returncode == 0, sent.stderr
    assert container.wait(PATIENCE) == 3, container.unshare.stderr()
    assert "app: failing" in (app / "log" / "main" / "current").read_text()

"""The run scripts in services/qmail work with only this project's tools on PATH.

qmail itself is not packaged for Debian, so qmail-start and tcpserver are
stand-ins, and so is svlog (its run as nobody from an installed venv is
test_install's; this test's interpreter may be one nobody cannot run): they record
what they were started with. Everything between the run script and them is real:
/bin/sh, and our envdir, softlimit and setuidgid (console scripts of this
installation), on a PATH that holds nothing else but
sh, id, head, cat and env. Each chain must end in the very process the run
script started (exec all the way: the supervisor signals the real service).
"""

from __future__ import annotations

import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services" / "qmail"
OUR_TOOLS = ("envdir", "softlimit", "setuidgid")
SYSTEM_TOOLS = ("sh", "id", "head", "cat", "env")

STAND_IN = """#!/bin/sh
echo "argv: $0 $*"
echo "pid: $$"
echo "uid: $(id -u)"
exec head -n 100 /proc/self/limits
"""


@pytest.fixture
def tools() -> Iterator[Path]:
    """The only directory on PATH; outside tmp_path so that nobody (the log user) can use it."""
    directory = Path(tempfile.mkdtemp(prefix="qmail-tools-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def tree(tmp_path: Path, tools: Path) -> Path:
    """services/qmail copied, its env pointed at a fake $QMAIL, and a PATH of our tools only."""
    shutil.copytree(SERVICES, tmp_path / "qmail", symlinks=True)
    qmail = tmp_path / "var" / "qmail"
    (qmail / "control").mkdir(parents=True)
    (qmail / "bin").mkdir()
    for name, text in [("me", "mail.example\n"), ("concurrencyincoming", "20\n"),
                       ("rcpthosts", "example\n"), ("defaultdelivery", "./Maildir/\n")]:
        (qmail / "control" / name).write_text(text)
    (tmp_path / "tools").symlink_to(tools)
    for name in OUR_TOOLS:
        (tools / name).symlink_to(Path(sys.executable).parent / name)
    for name in SYSTEM_TOOLS:
        found = shutil.which(name)
        assert found is not None, name
        (tools / name).symlink_to(found)
    for program, where in [("qmail-start", qmail / "bin"), ("tcpserver", tools),
                           ("svlog", tools)]:
        stand_in = where / program
        stand_in.write_text(STAND_IN)
        stand_in.chmod(0o755)
    settings = {
        "qmail-send/env/QMAIL": str(qmail),
        "qmail-smtpd/env/QMAIL": str(qmail),
        "qmail-smtpd/env/SMTPUSER": "nobody",
        "qmail-smtpd/env/PORT": "2525",
        "qmail-smtpd/env/TCPRULES": str(tmp_path / "tcp.smtp.cdb"),
        "qmail-send/log/env/LOGUSER": "nobody",
        "qmail-send/log/env/LOGDIR": str(tmp_path / "log"),
    }
    for name, value in settings.items():
        (tmp_path / "qmail" / name).write_text(value + "\n")
    return tmp_path


def run(tree: Path, service: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """Start ``service``'s run script as a supervisor would (cwd the service directory)."""
    directory = tree / "qmail" / service
    process = subprocess.Popen(
        ["./run"], cwd=directory, env={"PATH": str((tree / "tools").resolve())},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output, _ = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, output), process.pid


def report(output: str) -> dict[str, str]:
    """What a stand-in printed: argv, pid, uid, and its 'Max data size' limits line."""
    lines = output.splitlines()
    found = dict(line.split(": ", 1) for line in lines[:3])
    found["limits"] = next(line for line in lines if line.startswith("Max data size"))
    return found


def test_qmail_smtpd_chain(tree: Path) -> None:
    """envdir, then softlimit -m, then tcpserver with qmail's usual arguments, in one pid."""
    result, pid = run(tree, "qmail-smtpd")
    assert result.returncode == 0, result.stdout
    seen = report(result.stdout)
    qmail = tree / "var" / "qmail"
    nobody = pwd.getpwnam("nobody")
    assert seen["argv"] == (
        f"{(tree / 'tools').resolve()}/tcpserver -v -R -l mail.example -x {tree}/tcp.smtp.cdb -c 20"
        f" -u {nobody.pw_uid} -g {nobody.pw_gid} 0 2525 {qmail}/bin/qmail-smtpd"
    )
    assert seen["pid"] == str(pid)
    assert seen["limits"].split()[3] == "20000000"


def test_qmail_smtpd_refuses_an_open_relay(tree: Path) -> None:
    """Without control/rcpthosts the run script says why and exits 1 before listening."""
    (tree / "var" / "qmail" / "control" / "rcpthosts").unlink()
    result, _ = run(tree, "qmail-smtpd")
    assert result.returncode == 1
    assert "refusing to start an open relay" in result.stdout
    assert "argv:" not in result.stdout


def test_qmail_send_chain(tree: Path) -> None:
    """envdir, then qmail-start with the default delivery, from $QMAIL/bin, in one pid."""
    result, pid = run(tree, "qmail-send")
    assert result.returncode == 0, result.stdout
    seen = report(result.stdout)
    assert seen["argv"] == f"{tree}/var/qmail/bin/qmail-start ./Maildir/"
    assert seen["pid"] == str(pid)


def test_log_chain_runs_as_the_log_user(tree: Path) -> None:
    """log/run: envdir, then setuidgid LOGUSER, then svlog t LOGDIR, in one pid."""
    result, pid = run(tree, "qmail-send/log")
    assert result.returncode == 0, result.stdout
    seen = report(result.stdout)
    assert seen["argv"] == f"{(tree / 'tools').resolve()}/svlog t {tree}/log"
    assert seen["uid"] == str(pwd.getpwnam("nobody").pw_uid)
    assert seen["pid"] == str(pid)

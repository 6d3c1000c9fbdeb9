"""``svstat -o`` and ``svstat --json`` on directories our daemon runs, and their exit codes.

Exit codes (svstat(8)): 0 every directory read, 1 some supervisor not running, 111
some directory unreadable for another reason, 100 usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supervise.status import ExtraFlag
from support import client, eventually, make_service, read_extra, read_status, send, started

READY_RUN = "echo >&3; exec sleep 1000"


def svstat_json(*args: str | Path, cwd: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Our ``svstat --json``: exit code, one parsed object per stdout line, stderr."""
    result = client("svstat", "--json", *args, cwd=cwd)
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()], (
        result.stderr
    )


async def test_json_of_a_ready_service(tmp_path: Path, start_daemon: Any) -> None:
    """Up, ready (notification-fd), pid and stamps agree with the status files."""
    service = make_service(tmp_path, "r", READY_RUN, notification_fd="3")
    start_daemon(service)
    record = await started(service)
    await eventually(lambda: read_extra(service).flags & ExtraFlag.READY, what="ready")
    code, objects, stderr = svstat_json("r", cwd=tmp_path)
    assert (code, stderr, len(objects)) == (0, "", 1)
    found = objects[0]
    assert found["dir"] == "r" and found["running"] is True
    assert (found["up"], found["ready"], found["wantedup"], found["normallyup"]) == (
        True, True, True, True
    )
    assert found["pid"] == record.pid and found["state"] == "run" and found["want"] == "up"
    assert found["updownsince"] == "@" + record.stamp.hex()
    ready_stamp = read_extra(service).ready_stamp
    assert ready_stamp is not None and found["readysince"] == "@" + ready_stamp.hex()
    assert (found["exitcode"], found["signal"], found["signum"]) == (None, None, None)
    assert found["failed"] is False and found["finishing"] is False


async def test_json_after_down_says_how_it_ended(tmp_path: Path, start_daemon: Any) -> None:
    """``svc -d``: down, want down, killed by SIGTERM (signum 15), no pid, not ready."""
    service = make_service(tmp_path, "d", "exec sleep 1000")
    start_daemon(service)
    await started(service)
    send(service, b"d")
    await eventually(lambda: read_status(service).pid == 0, what="down")
    await eventually(lambda: read_extra(service).flags & ExtraFlag.EXITED, what="exit recorded")
    code, objects, _ = svstat_json("d", cwd=tmp_path)
    found = objects[0]
    assert code == 0
    assert (found["up"], found["ready"], found["wantedup"], found["pid"]) == (
        False, False, False, None
    )
    assert (found["signal"], found["signum"], found["exitcode"]) == ("SIGTERM", 15, None)
    assert (found["state"], found["want"]) == ("down", "down")


async def test_fields_of_a_service_that_exited(tmp_path: Path, start_daemon: Any) -> None:
    """-o with s6's spellings: an exit code 3 once down, -1 and NA where nothing applies."""
    service = make_service(tmp_path, "e", "exit 3", down="")
    start_daemon(service)
    await eventually(lambda: (service / "supervise" / "status").exists(), what="supervised")
    send(service, b"o")
    await eventually(lambda: read_extra(service).flags & ExtraFlag.EXITED, what="ran once")
    await eventually(lambda: read_status(service).pid == 0, what="down again")
    result = client("svstat", "-o", "up,wantedup,normallyup,pid,exitcode,signal,signum,state",
                    "e", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "false false false -1 3 NA -1 down\n"


async def test_exit_codes_for_each_kind_of_directory(tmp_path: Path, start_daemon: Any) -> None:
    """0 all read; 1 with a directory whose supervisor is not running; 111 with a missing one."""
    service = make_service(tmp_path, "ok", "exec sleep 1000")
    make_service(tmp_path, "never", "exec sleep 1000")  # no supervisor ever
    start_daemon(service)
    await started(service)
    assert client("svstat", "-o", "up", "ok", cwd=tmp_path).returncode == 0
    lone = client("svstat", "-o", "up", "ok", "never", cwd=tmp_path)
    assert (lone.returncode, lone.stdout) == (1, "true\n")
    assert lone.stderr == (
        "svstat: warning: unable to read status for never: "
        "unable to open supervise/ok: file does not exist\n"
    )
    missing = client("svstat", "-o", "up", "never", "nonexist", "ok", cwd=tmp_path)
    assert (missing.returncode, missing.stdout) == (111, "true\n")
    code, objects, _ = svstat_json("ok", "never", "nonexist", cwd=tmp_path)
    assert code == 111
    assert [(o["dir"], o["running"], o.get("error")) for o in objects] == [
        ("ok", True, None),
        ("never", False, "unable to open supervise/ok: file does not exist"),
        ("nonexist", None, "unable to chdir: file does not exist"),
    ]


def test_usage_errors_exit_100(tmp_path: Path) -> None:
    """An unknown field or option: one line naming it, exit 100, nothing on stdout."""
    unknown = client("svstat", "-o", "up,bogus", "x", cwd=tmp_path)
    assert (unknown.returncode, unknown.stdout) == (100, "")
    assert "bogus" in unknown.stderr and unknown.stderr.count("\n") == 1
    option = client("svstat", "-Z", "x", cwd=tmp_path)
    assert (option.returncode, option.stdout) == (100, "")
    assert option.stderr.startswith("svstat: usage: svstat ")

"""daemontools' client rules, pinned without the peers: texts, exit codes and status bytes.

tests/interop compares our svc, svok and svstat with Debian's on the same
directories; on a machine without the peers those tests skip. The rules they
found are pinned here as literal text, as Debian's daemontools 0.76-8.1 printed
it for the same directories (``/usr/bin/svc``, ``/usr/bin/svok``,
``/usr/bin/svstat``), so a regression shows everywhere. The clients run as the
console scripts next to our interpreter (never the names on PATH: Debian's).

A "running" supervisor is faked by holding ``supervise/control`` and
``supervise/ok`` open for reading, which is all the clients look for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import (
    IGNORE_TERM_RUN,
    eventually,
    make_service,
    send,
    started,
    started_ignoring_term,
)

BIN = Path(sys.executable).parent

#: daemontools' svc's second line after a bad option (ours may add lines after it).
OPTIONS_LINE = ("svc options: u up, d down, o once, x exit, p pause, c continue, h hup, "
                "a alarm, i interrupt, t term, k kill")

#: A daemontools 0.76 status record, ``up (pid 383)``, want up (a real dump).
UP_383 = bytes.fromhex("400000006b01d5b53726b4ac7f0100000075")


def run(program: str, *args: str, cwd: Path) -> tuple[int, str, str]:
    result = subprocess.run([str(BIN / program), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=30, check=False)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """``nosup`` (no supervise/), ``notrun`` (FIFOs, no reader), ``running`` (FIFOs held),
    ``file`` (not a directory); ``missing`` does not exist."""
    (tmp_path / "nosup").mkdir()
    held = []
    for name in ("notrun", "running"):
        (tmp_path / name / "supervise").mkdir(parents=True)
        for fifo in ("control", "ok"):
            os.mkfifo(tmp_path / name / "supervise" / fifo)
        (tmp_path / name / "supervise" / "status").write_bytes(UP_383)
    for fifo in ("control", "ok"):
        held.append(os.open(tmp_path / "running" / "supervise" / fifo,
                            os.O_RDONLY | os.O_NONBLOCK))
    (tmp_path / "file").write_text("")
    yield tmp_path
    for fd in held:
        os.close(fd)


def sent(tree: Path) -> bytes:
    """What reached ``running``'s control FIFO so far."""
    fd = os.open(tree / "running" / "supervise" / "control", os.O_RDONLY | os.O_NONBLOCK)
    try:
        return os.read(fd, 100)
    except BlockingIOError:
        return b""
    finally:
        os.close(fd)


# --- svc: a warning per directory it cannot reach, and still exit 0 --------------------------


@pytest.mark.parametrize(("name", "warning"), [
    ("nosup", "svc: warning: unable to control nosup: file does not exist\n"),
    ("notrun", "svc: warning: unable to control notrun: supervise not running\n"),
    ("missing", "svc: warning: unable to chdir to missing: file does not exist\n"),
    ("file", "svc: warning: unable to chdir to file: not a directory\n"),
])
def test_svc_warns_and_exits_0(tree: Path, name: str, warning: str) -> None:
    assert run("svc", "-u", name, cwd=tree) == (0, "", warning)


def test_svc_goes_on_past_a_directory_it_cannot_reach(tree: Path) -> None:
    """Each directory on its own: the warnings in order, the reachable one controlled."""
    assert run("svc", "-d", "nosup", "running", "missing", cwd=tree) == (0, "", (
        "svc: warning: unable to control nosup: file does not exist\n"
        "svc: warning: unable to chdir to missing: file does not exist\n"))
    assert sent(tree) == b"d"


def test_svc_sends_letters_in_order_once_each_in_one_write(tree: Path) -> None:
    assert run("svc", "-dudu", "-x", "running", cwd=tree) == (0, "", "")
    assert sent(tree) == b"dux"


def test_svc_without_arguments_does_nothing(tree: Path) -> None:
    assert run("svc", cwd=tree) == (0, "", "")
    assert run("svc", "-u", cwd=tree) == (0, "", "")


def test_svc_bad_option_is_100_with_daemontools_lines_and_sends_nothing(tree: Path) -> None:
    code, out, err = run("svc", "-Z", "running", cwd=tree)
    assert (code, out) == (100, "")
    assert err.splitlines()[:2] == ["svc: illegal option -- Z", OPTIONS_LINE]
    assert sent(tree) == b""


# --- svok: 0 running, 100 not, 111 cannot look ------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    (["running"], (0, "", "")),
    (["notrun"], (100, "", "")),
    (["nosup"], (100, "", "")),
    (["missing"], (111, "", "svok: fatal: unable to chdir to missing: file does not exist\n")),
    (["file"], (111, "", "svok: fatal: unable to chdir to file: not a directory\n")),
    ([], (100, "", "svok: usage: svok dir\n")),
    (["running", "missing"], (0, "", "")),  # only the first argument counts
])
def test_svok(tree: Path, args: list[str], expected: tuple[int, str, str]) -> None:
    assert run("svok", *args, cwd=tree) == expected


# --- svstat: a line per directory on stdout, always exit 0 -------------------------------------


def test_svstat_lines_for_every_kind_of_directory(tree: Path) -> None:
    code, out, err = run("svstat", "nosup", "notrun", "missing", "file", "running", cwd=tree)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:4] == [
        "nosup: unable to open supervise/ok: file does not exist",
        "notrun: supervise not running",
        "missing: unable to chdir: file does not exist",
        "file: unable to chdir: not a directory",
    ]
    assert re.fullmatch(r"running: up \(pid 383\) \d+ seconds", lines[4]), lines[4]


def test_svstat_without_arguments_prints_nothing(tree: Path) -> None:
    assert run("svstat", cwd=tree) == (0, "", "")


def test_svstat_short_status_is_bad_format(tree: Path) -> None:
    (tree / "running" / "supervise" / "status").write_bytes(UP_383[:17])
    code, out, _ = run("svstat", "running", cwd=tree)
    assert (code, out) == (0, "running: unable to read supervise/status: bad format\n")


@pytest.mark.parametrize(("record", "down_file", "line"), [
    # paused and want down, normally down: daemontools' fixed order of suffixes
    (UP_383[:16] + b"\x01d", True, "up (pid 383) N seconds, normally down, paused, want down"),
    (UP_383[:12] + bytes(4) + b"\x00u", False, "down N seconds, normally up, want up"),
    # runit's 20 bytes: daemontools reads the first 18
    (UP_383 + b"\x00\x01", False, "up (pid 383) N seconds"),
])
def test_svstat_suffixes(tree: Path, record: bytes, down_file: bool, line: str) -> None:
    (tree / "running" / "supervise" / "status").write_bytes(record)
    if down_file:
        (tree / "running" / "down").write_text("")
    code, out, _ = run("svstat", "running", cwd=tree)
    assert (code, re.sub(r"\b\d+ seconds", "N seconds", out)) == (0, f"running: {line}\n")


# --- the status file our daemon writes, byte by byte --------------------------------------


async def test_status_bytes_as_daemontools_and_runit_read_them(
    tmp_path: Path, start_daemon: Any
) -> None:
    """20 bytes: TAI64N stamp (BE, nanoseconds ending in 500), pid LE, paused, want,
    runit's got-TERM and run state; runit's ``stat`` and ``pid`` beside it."""
    service = make_service(tmp_path, "s", IGNORE_TERM_RUN)
    start_daemon(service)
    pid = (await started_ignoring_term(service)).pid
    supervise = service / "supervise"

    def raw() -> bytes:
        return (supervise / "status").read_bytes()

    data = raw()
    assert len(data) == 20
    label = int.from_bytes(data[:8], "big") - (2**62 + 10)
    assert abs(label - time.time()) < 60
    assert int.from_bytes(data[8:12], "big") % 1000 == 500
    assert int.from_bytes(data[12:16], "little") == pid
    assert data[16:] == b"\x00u\x00\x01"
    assert ((supervise / "stat").read_text(), (supervise / "pid").read_text()) == (
        "run\n", f"{pid}\n")

    send(service, b"p")
    await eventually(lambda: raw()[16:] == b"\x01u\x00\x01", what="paused byte")
    assert (supervise / "stat").read_text() == "run, paused\n"
    send(service, b"cd")  # TERM is ignored: still up, got TERM, want down
    await eventually(lambda: raw()[16:] == b"\x00d\x01\x01", what="want down, got TERM")
    assert raw()[:16] == data[:16]  # stamp and pid unchanged: no pid change
    assert (supervise / "stat").read_text() == "run, got TERM, want down\n"
    send(service, b"k")
    await eventually(lambda: raw()[12:] == bytes(4) + b"\x00d\x00\x00", what="down")
    assert ((supervise / "stat").read_text(), (supervise / "pid").read_text()) == ("down\n", "")


async def test_clients_on_our_daemon_before_and_after_it_stops(
    tmp_path: Path, start_daemon: Any
) -> None:
    """svok 0 then 100 once the daemon exited; svstat then says ``supervise not running``."""
    service = make_service(tmp_path, "a", "exec sleep 1000")
    daemon = start_daemon(service)
    pid = (await started(service)).pid
    assert run("svok", "a", cwd=tmp_path) == (0, "", "")
    code, out, _ = run("svstat", "a", cwd=tmp_path)
    assert code == 0 and re.fullmatch(rf"a: up \(pid {pid}\) \d+ seconds\n", out), out
    assert daemon.stop() == 0
    assert run("svok", "a", cwd=tmp_path) == (100, "", "")
    assert run("svstat", "a", cwd=tmp_path) == (0, "a: supervise not running\n", "")
    assert run("svc", "-u", "a", cwd=tmp_path) == (
        0, "", "svc: warning: unable to control a: supervise not running\n")

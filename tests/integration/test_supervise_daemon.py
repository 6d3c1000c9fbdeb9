"""``supervise DIR...`` is svscan's daemon over fixed directories: the same signals, in and out.

SIGUSR1 writes the state and the daemon carries on; SIGHUP re-executes it
with every service handed over (same pid, nothing restarted, control works
afterwards), and the exit code (111 once a directory was refused) survives
the re-exec. ``main`` returns its exit code, so it also runs in process.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from supervise import cli, svscan_cli
from supervise.process import HELD_SIGNALS
from supervise.reexec import ENV
from supervise.status import RunState, Want
from support import (
    Daemon,
    event_loop_running,
    eventually,
    make_service,
    pid_alive,
    read_status,
    send,
    sockets,
    started,
    supervisor_listening,
)

COUNTED_RUN = "echo start >> starts; exec sleep 1000"
PREFIX = "supervise: state: "


def starts(service: Path) -> int:
    try:
        return (service / "starts").read_text().count("\n")
    except FileNotFoundError:
        return 0


def dumps(daemon: Daemon) -> list[list[str]]:
    """Every SIGUSR1 dump so far, each as its lines (without the prefix)."""
    found: list[list[str]] = []
    for line in daemon.stderr().splitlines():
        if not line.startswith(PREFIX):
            continue
        text = line[len(PREFIX):]
        if text.startswith(f"pid {daemon.pid}, up "):
            found.append([])
        if found:
            found[-1].append(text)
    return found


async def dump(daemon: Daemon) -> list[str]:
    """Send SIGUSR1; the lines of the dump it answers with."""
    before = len(dumps(daemon))
    daemon.signal(signal.SIGUSR1)
    await eventually(lambda: len(dumps(daemon)) > before, what="a USR1 dump")
    return dumps(daemon)[-1]


def handed_over(pid: int) -> bool:
    """Whether the current image of `pid` was exec'ed with a handover (a re-exec happened)."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        return any(word.startswith(f"{ENV}=".encode()) for word in f.read().split(b"\0"))


async def hup(daemon: Daemon) -> None:
    """SIGHUP, then wait until the new image answers a SIGUSR1."""
    old = await event_loop_running(daemon.pid)
    assert not handed_over(daemon.pid)
    daemon.signal(signal.SIGHUP)

    def exec_done() -> bool:
        assert daemon.process.poll() is None, daemon.stderr()
        return not old <= sockets(daemon.pid)

    await eventually(exec_done, what="the re-exec")
    await dump(daemon)
    assert handed_over(daemon.pid)


async def down(service: Path) -> None:
    def is_down() -> bool:
        record = read_status(service)
        return record.pid == 0 and record.run_state is RunState.DOWN

    await eventually(is_down, what=f"{service} down")


# --- signals of the daemon process -------------------------------------------------------


async def test_usr1_dumps_the_state_and_carries_on(tmp_path: Path, start_daemon: Any) -> None:
    a = make_service(tmp_path, "a", COUNTED_RUN)
    b = make_service(tmp_path, "b", COUNTED_RUN, down="")
    daemon = start_daemon(a, b)
    pid = (await started(a)).pid
    await eventually(lambda: supervisor_listening(b), what="b supervised")

    lines = await dump(daemon)

    assert lines[0].startswith(f"pid {daemon.pid}, up ") and "2 services" in lines[0]
    assert any(line.startswith(f"{a}: up (pid {pid})") for line in lines)
    assert any(line.startswith(f"{b}: down ") and "want down" in line for line in lines)
    assert any(line.endswith(f"{a}/supervise/control") for line in lines)
    assert daemon.process.poll() is None and read_status(a).pid == pid
    send(a, b"d")
    await down(a)
    assert daemon.stop() == 0
    assert not pid_alive(pid)


async def test_hup_reexecutes_without_restarting_the_service(
    tmp_path: Path, start_daemon: Any
) -> None:
    a = make_service(tmp_path, "a", COUNTED_RUN)
    b = make_service(tmp_path, "b", COUNTED_RUN)
    daemon = start_daemon(a, b)
    pids = [(await started(service)).pid for service in (a, b)]

    await hup(daemon)

    assert [read_status(service).pid for service in (a, b)] == pids
    assert all(pid_alive(pid) for pid in pids) and (starts(a), starts(b)) == (1, 1)
    send(a, b"d")  # the new image reads control
    await down(a)
    assert read_status(a).want is Want.DOWN and not pid_alive(pids[0])
    assert read_status(b).pid == pids[1]
    send(a, b"x")  # a is released; b still runs: the daemon carries on
    await eventually(lambda: not supervisor_listening(a), what="a released")
    assert daemon.process.poll() is None
    send(b, b"dx")
    assert daemon.wait() == 0  # every directory released
    assert "warning" not in daemon.stderr() and "alert" not in daemon.stderr()


async def test_refusal_is_remembered_across_hup(tmp_path: Path, start_daemon: Any) -> None:
    """A directory whose lock another supervisor holds: exit 111 at the end, HUP or not."""
    a = make_service(tmp_path, "a", COUNTED_RUN)
    held = make_service(tmp_path, "held", COUNTED_RUN)
    holder = start_daemon(held)
    await started(held)
    daemon = start_daemon(a, held)
    await started(a)
    await eventually(lambda: "unable to acquire" in daemon.stderr(), what="held refused")

    await hup(daemon)

    send(a, b"dx")
    assert daemon.wait() == 111
    assert holder.stop() == 0


# --- main(argv) -> int, in process ---------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["-v", "dir"], ["--"]], ids=["nothing", "option", "dashes"])
def test_supervise_main_usage_error_returns_100(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 100
    assert "supervise: usage: supervise dir" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["-q"], ["one", "two"]], ids=["option", "two-roots"])
def test_svscan_main_usage_error_returns_100(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert svscan_cli.main(argv) == 100
    assert "svscan: usage: svscan [-s] [dir]" in capsys.readouterr().err


def test_svscan_main_returns_111_when_the_root_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert svscan_cli.main([str(tmp_path / "missing")]) == 111
    assert "svscan: fatal: unable to chdir" in capsys.readouterr().err


def test_supervise_main_runs_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole daemon, in this process: ``x`` waiting in the control FIFO releases the
    directory (its service is down: nothing is started), and main returns 0, with the
    daemon's signals held (its ending is not cut short; the caller releases them)."""
    monkeypatch.delenv(ENV, raising=False)
    mask_before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    service = make_service(tmp_path, "svc", COUNTED_RUN, down="")
    (service / "supervise").mkdir(mode=0o700)
    os.mkfifo(service / "supervise" / "control", 0o600)
    control = os.open(service / "supervise" / "control", os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(control, b"x")
        assert cli.main([str(service)]) == 0
        assert HELD_SIGNALS <= signal.pthread_sigmask(signal.SIG_BLOCK, [])
    finally:
        os.close(control)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask_before)
    record = read_status(service)
    assert (record.pid, record.want, starts(service)) == (0, Want.DOWN, 0)

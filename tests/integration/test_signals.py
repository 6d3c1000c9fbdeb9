"""Every control letter reaches the service as the right signal (main pid only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support import (
    IGNORE_TERM_RUN,
    client,
    eventually,
    make_service,
    read_status,
    send,
    started,
    started_ignoring_term,
)

TRAPPING_RUN = """
for sig in HUP ALRM INT TERM QUIT USR1 USR2 WINCH; do
  trap "echo $sig >> signals" $sig
done
echo ready > ready
while :; do sleep 0.05; done
"""


@pytest.mark.parametrize(
    ("letter", "name"),
    [
        (b"h", "HUP"), (b"a", "ALRM"), (b"i", "INT"), (b"t", "TERM"),
        (b"q", "QUIT"), (b"1", "USR1"), (b"2", "USR2"), (b"w", "WINCH"), (b"y", "WINCH"),
    ],
)
async def test_signal_letters(tmp_path: Path, start_daemon: Any, letter: bytes, name: str) -> None:
    service = make_service(tmp_path, "sig", TRAPPING_RUN)
    start_daemon(service)
    pid = (await started(service)).pid
    await eventually(lambda: (service / "ready").exists(), what="traps set")
    send(service, letter)
    await eventually(lambda: (service / "signals").read_text() == f"{name}\n", what=name)
    assert read_status(service).pid == pid  # trapped: still the same process
    send(service, b"k")
    await eventually(lambda: read_status(service).pid not in (0, pid), what="restart after k")
    send(service, b"d")  # TERM is trapped: the shell's loop keeps going; kill it
    send(service, b"k")


@pytest.mark.parametrize(
    ("option", "name"),
    [("-h", "HUP"), ("-q", "QUIT"), ("-1", "USR1"), ("-2", "USR2"), ("-y", "WINCH")],
)
async def test_our_svc_sends_each_signal(
    tmp_path: Path, start_daemon: Any, option: str, name: str
) -> None:
    """Our ``svc`` with daemontools' -h and the letters beyond it: the signal arrives once."""
    service = make_service(tmp_path, "sig", TRAPPING_RUN)
    start_daemon(service)
    pid = (await started(service)).pid
    await eventually(lambda: (service / "ready").exists(), what="traps set")
    result = client("svc", option, "sig", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    await eventually(lambda: (service / "signals").read_text() == f"{name}\n", what=name)
    assert read_status(service).pid == pid
    send(service, b"dk")


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


async def test_pause_continue_and_down_on_paused(tmp_path: Path, start_daemon: Any) -> None:
    """``p`` stops, ``c`` continues; ``d`` on a paused service sends TERM then CONT."""
    service = make_service(tmp_path, "p", "exec sleep 1000")
    start_daemon(service)
    pid = (await started(service)).pid
    send(service, b"p")
    await eventually(lambda: _state(pid) == "T" and read_status(service).paused, what="paused")
    send(service, b"c")
    await eventually(
        lambda: _state(pid) != "T" and not read_status(service).paused, what="continued"
    )
    send(service, b"p")
    await eventually(lambda: _state(pid) == "T", what="stopped again")
    send(service, b"d")
    await eventually(lambda: read_status(service).pid == 0, what="down after TERM+CONT")
    assert not read_status(service).paused


async def test_kill_letter_and_unknown_bytes(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "k", IGNORE_TERM_RUN)
    start_daemon(service)
    pid = (await started_ignoring_term(service)).pid
    send(service, b"Zz?\n\0")  # ignored, as every peer ignores them
    send(service, b"t")
    await eventually(lambda: read_status(service).term_sent, what="got TERM recorded")
    assert read_status(service).pid == pid
    send(service, b"k")
    await eventually(lambda: read_status(service).pid not in (0, pid), what="restarted after k")
    send(service, b"dk")


async def test_bytes_applied_in_order(tmp_path: Path, start_daemon: Any) -> None:
    """``du`` in one write: down, then up again (a new pid); ``ud`` ends down."""
    service = make_service(tmp_path, "order", "exec sleep 1000")
    start_daemon(service)
    first = (await started(service)).pid
    send(service, b"du")
    second = (await eventually(lambda: (r := read_status(service)).pid not in (0, first) and r)).pid  # type: ignore[union-attr]
    send(service, b"ud")
    await eventually(lambda: read_status(service).pid == 0, what="down")
    assert second != first

"""daemontools' ``svstat`` says the same thing about our daemon as about the real ``supervise``.

Two identical service directories, ``ours/NAME`` (our daemon) and ``real/NAME``
(Debian's ``/usr/bin/supervise``), are driven by the same real ``/usr/bin/svc``
invocation (one command line naming both). After each command the test waits
until the real supervise has taken it (its control FIFO is drained, its status
rewritten, and ``svstat`` shows the state recorded below from the real tool),
then waits for ``svstat`` against ours to print the very same line, pids and
seconds aside. Bytes 16-17 of the status (paused, want) and whether a pid is
set must match too: ``svstat`` cannot show want ``u`` against want 0 (after
``o``) while up, but those bytes are the daemontools layout all the same.

The real supervise is deaf for 1 s after each start; the test waits for states,
it never sleeps a fixed time except to check that something does *not* happen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from interop.interop_support import (
    PeerSupervisors,
    control_pending,
    normalise,
    release,
    status_bytes,
    status_pid,
    status_version,
    svc,
    svstat,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import eventually, make_service, peer, without_tracking_line

#: How long our daemon may take to reach the state the real supervise reached.
OURS_TIMEOUT = 5.0
#: Control bytes after which daemontools' supervise always rewrites its status.
ANNOUNCED = set("udopcx")


@dataclass(frozen=True)
class Step:
    """One command sent to both supervisors and the ``svstat`` line it leads to."""

    label: str
    svc: str | None  # svc's options, e.g. "-pd"; None: no command (start, file change)
    expect: str  # svstat's line against the real supervise, normalised
    new_pid: bool = False  # the service must have been (re)started with a new pid
    settle: float = 0.0  # then check the state still holds this long after (no restart)
    action: Callable[[Path], None] | None = None  # done to both service directories


def _remove_down(service: Path) -> None:
    (service / "down").unlink()


NORMALLY_UP = [
    Step("start", None, "a: up (pid P) N seconds"),
    Step("svc -d", "-d", "a: down N seconds, normally up"),
    Step("svc -u", "-u", "a: up (pid P) N seconds", new_pid=True),
    Step("svc -p", "-p", "a: up (pid P) N seconds, paused"),
    Step("svc -c", "-c", "a: up (pid P) N seconds"),
    Step("svc -o while up", "-o", "a: up (pid P) N seconds"),
    Step("svc -k after -o: not restarted", "-k", "a: down N seconds, normally up", settle=0.5),
    Step("svc -o while down", "-o", "a: up (pid P) N seconds", new_pid=True),
    Step("svc -u while up after -o", "-u", "a: up (pid P) N seconds"),
    Step("svc -pd (paused, then down)", "-pd", "a: down N seconds, normally up"),
    Step("svc -p while down", "-p", "a: down N seconds, normally up"),
    Step("svc -u after -p while down", "-u", "a: up (pid P) N seconds", new_pid=True),
    Step("svc -t: dies, restarted", "-t", "a: up (pid P) N seconds", new_pid=True),
    Step("svc -x while up: keeps running", "-x", "a: up (pid P) N seconds"),
    Step("svc -d after -x: supervisor exits", "-d", "a: supervise not running"),
]

IGNORES_TERM_NORMALLY_DOWN = [
    Step("start with a down file", None, "b: down N seconds"),
    Step("svc -u", "-u", "b: up (pid P) N seconds, normally down", new_pid=True),
    Step("svc -d, TERM ignored", "-d", "b: up (pid P) N seconds, normally down, want down"),
    Step("svc -p", "-p", "b: up (pid P) N seconds, normally down, paused, want down"),
    Step("svc -c", "-c", "b: up (pid P) N seconds, normally down, want down"),
    Step("svc -u while still up", "-u", "b: up (pid P) N seconds, normally down"),
    Step("svc -o while up", "-o", "b: up (pid P) N seconds, normally down"),
    Step("svc -d again", "-d", "b: up (pid P) N seconds, normally down, want down"),
    Step("svc -k", "-k", "b: down N seconds", settle=0.5),
    Step("svc -c while down", "-c", "b: down N seconds"),
    Step("svc -o while down", "-o", "b: up (pid P) N seconds, normally down", new_pid=True),
    Step("rm down while up", None, "b: up (pid P) N seconds", action=_remove_down),
    Step("svc -x while up: keeps running", "-x", "b: up (pid P) N seconds"),
    Step("svc -k after -x: supervisor exits", "-k", "b: supervise not running"),
]


def _flags(service: Path) -> tuple[bool, int, int]:
    """(pid set, paused byte, want byte): the daemontools bytes svstat reads besides the pid."""
    data = status_bytes(service)
    return (status_pid(service) != 0, data[16], data[17])


class Pair:
    """The same service under the real supervise and under ours."""

    def __init__(self, real: Path, ours: Path):
        self.real = real
        self.ours = ours
        self.name = real.name

    def line(self, service: Path) -> str:
        return normalise(svstat(service.parent, self.name))

    async def apply(self, step: Step) -> None:
        old_pids = {service: status_pid(service) for service in (self.real, self.ours)}
        old_version = status_version(self.real)
        if step.action is not None:
            step.action(self.real)
            step.action(self.ours)
        if step.svc is not None:
            svc(step.svc, self.ours, self.real)
        announced = step.svc is not None and bool(set(step.svc) & ANNOUNCED)

        def real_done() -> str:
            assert control_pending(self.real) in (0, None), "real supervise has bytes to read"
            if announced:
                assert status_version(self.real) != old_version, "real supervise did not announce"
            line = self.line(self.real)
            assert line == step.expect + "\n", f"real supervise: {line!r}"
            if step.new_pid:
                pid = status_pid(self.real)
                assert pid and pid != old_pids[self.real], "real supervise: no new pid"
            return line

        real_line = await eventually(real_done, what=f"{step.label}: the real supervise")
        real_flags = _flags(self.real)

        def ours_done() -> bool:
            assert control_pending(self.ours) in (0, None), "our daemon has bytes to read"
            line = self.line(self.ours)
            assert line == real_line, (
                f"{step.label}: svstat against real supervise {real_line!r}, against ours {line!r}"
            )
            flags = _flags(self.ours)
            assert flags == real_flags, (
                f"{step.label}: status (pid set, byte 16 paused, byte 17 want): "
                f"real supervise {real_flags}, ours {flags}"
            )
            if step.new_pid:
                pid = status_pid(self.ours)
                assert pid and pid != old_pids[self.ours], f"{step.label}: ours has no new pid"
            return True

        await eventually(ours_done, OURS_TIMEOUT, f"{step.label}: our daemon like the real one")
        if step.settle:
            pids = (status_pid(self.real), status_pid(self.ours))
            await trio.sleep(step.settle)
            assert (status_pid(self.real), status_pid(self.ours)) == pids, (
                f"{step.label}: a pid changed within {step.settle} s (real, ours): "
                f"{pids} -> {(status_pid(self.real), status_pid(self.ours))}"
            )
            assert self.line(self.real) == real_line
            assert self.line(self.ours) == real_line, f"{step.label}: ours changed after settling"


@pytest.mark.parametrize(
    ("name", "run", "files", "steps"),
    [
        pytest.param("a", "exec sleep 1000", {}, NORMALLY_UP, id="normally-up"),
        pytest.param(
            "b",
            "trap '' TERM\nexec sleep 1000",
            {"down": ""},
            IGNORES_TERM_NORMALLY_DOWN,
            id="ignores-term-normally-down",
        ),
    ],
)
async def test_svstat_same_against_ours_and_real_supervise(
    tmp_path: Path,
    start_daemon: Any,
    peers: PeerSupervisors,
    name: str,
    run: str,
    files: dict[str, str],
    steps: list[Step],
) -> None:
    for tool in ("svstat", "svc", "supervise"):
        peer(tool)
    real = make_service(tmp_path / "real", name, run, **files)
    ours = make_service(tmp_path / "ours", name, run, **files)
    real_supervise = peers.start("supervise", real)
    daemon = start_daemon(ours)
    pair = Pair(real, ours)
    try:
        for step in steps:
            await pair.apply(step)
    finally:
        release(ours)
    # Both supervisors exited on their own after x: with status 0, and nothing left running.
    assert real_supervise.wait() == 0, real_supervise.output()
    assert daemon.wait() == 0, daemon.stderr()
    assert real_supervise.output() == ""
    assert without_tracking_line(daemon.stderr()) == ""

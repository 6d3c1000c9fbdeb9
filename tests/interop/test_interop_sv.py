"""runit's ``sv`` drives our daemon and reports it exactly as it reports runit's ``runsv``.

Each test has two identical service directories, ``runit/NAME`` under Debian's
``/usr/bin/runsv`` and ``ours/NAME`` under our daemon, and runs the same ``sv``
command line against both at the same time (``./NAME`` from the parent
directory, so that ``sv`` takes no detour through ``$SVDIR`` and prints the
same name). What ``sv`` prints and its exit code must be the same, pids and
seconds aside; the runsv run is also checked against the text observed from
runit itself, so a change in the peer shows up as such.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import trio

from interop.interop_support import (
    CLIENT_TIMEOUT,
    PeerSupervisors,
    next_second,
    normalise,
    peer_up,
    release,
    status_bytes,
    status_pid,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import eventually, make_service, peer, started

RUN = "exec sleep 1000"
IGNORES_TERM = "trap '' TERM\necho > term-ignored\nexec sleep 1000"


async def _sv(service: Path, args: list[str]) -> tuple[int, str]:
    """``sv ARGS ./NAME`` in the service's parent: exit code and stdout (stderr must be empty)."""
    with trio.fail_after(CLIENT_TIMEOUT):
        result = await trio.run_process(
            [peer("sv"), *args, f"./{service.name}"],
            cwd=service.parent,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.stderr == b"", f"sv {args} on {service}: stderr {result.stderr!r}"
    return result.returncode, result.stdout.decode()


def _printed_pid(text: str) -> int:
    match = re.search(r"\(pid (\d+)\)", text)
    assert match, f"no pid in {text!r}"
    return int(match.group(1))


def _state(service: Path) -> tuple[int, int]:
    """(pid, byte 19: 0 down, 1 run, 2 finish) from the status file."""
    return status_pid(service), status_bytes(service)[19]


def _supervise_made(service: Path) -> bool:
    return (service / "supervise" / "ok").exists()


def _runit_files(service: Path) -> tuple[str, str]:
    supervise = service / "supervise"
    pid = re.sub(r"\d+", "P", (supervise / "pid").read_text())
    return (supervise / "stat").read_text(), pid


class Both:
    """The same service under runsv and under our daemon."""

    def __init__(self, runit: Path, ours: Path):
        self.runit = runit
        self.ours = ours

    async def sv(self, *args: str, expect: tuple[int, str]) -> tuple[str, str]:
        """Run ``sv ARGS`` against both at once; runsv must give `expect` (normalised), ours too.

        Returns the raw stdout of (runsv, ours).
        """
        results: dict[Path, tuple[int, str]] = {}

        async def one(service: Path) -> None:
            results[service] = await _sv(service, list(args))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, self.runit)
            nursery.start_soon(one, self.ours)
        (runit_rc, runit_out), (ours_rc, ours_out) = results[self.runit], results[self.ours]
        assert (runit_rc, normalise(runit_out)) == expect, (
            f"sv {' '.join(args)} against runsv changed: {(runit_rc, runit_out)!r}"
        )
        assert (ours_rc, normalise(ours_out)) == (runit_rc, normalise(runit_out)), (
            f"sv {' '.join(args)}: against runsv {(runit_rc, runit_out)!r}, "
            f"against ours {(ours_rc, ours_out)!r}"
        )
        if args == ("status",) and expect[0] == 0:
            await self.same_runit_files(f"after sv {' '.join(args)}")
        return runit_out, ours_out

    async def same_runit_files(self, what: str) -> None:
        """``supervise/stat`` and ``supervise/pid`` (pid normalised) as runsv writes them."""
        runit_files = _runit_files(self.runit)

        def same() -> bool:
            ours_files = _runit_files(self.ours)
            assert ours_files == runit_files, (
                f"{what}: supervise/stat, supervise/pid: runsv {runit_files!r}, ours {ours_files!r}"
            )
            return True

        await eventually(same, 5.0, f"{what}: our stat and pid files like runsv's")

    async def reach(self, pid_set: bool, run_state: int, what: str) -> None:
        """Wait until both status files show a pid (or none) and this byte 19."""
        for service in (self.runit, self.ours):

            def there(service: Path = service) -> bool:
                pid, state = _state(service)
                return bool(pid) == pid_set and state == run_state

            await eventually(there, what=f"{service}: {what}")

    def pids(self) -> tuple[int, int]:
        return status_pid(self.runit), status_pid(self.ours)


async def _pair(
    tmp_path: Path,
    start_daemon: Any,
    peers: PeerSupervisors,
    name: str,
    run: str,
    **files: str,
) -> tuple[Both, Any, Any]:
    for tool in ("sv", "runsv"):
        peer(tool)
    runit = make_service(tmp_path / "runit", name, run, **files)
    ours = make_service(tmp_path / "ours", name, run, **files)
    runsv = peers.start("runsv", runit)
    daemon = start_daemon(ours)
    return Both(runit, ours), runsv, daemon


async def _exit_both(both: Both, runsv: Any, daemon: Any) -> None:
    """``sv -w 5 exit`` on a down service: both supervisors go away, and say so."""
    name = both.runit.name
    await both.sv("-w", "5", "exit", expect=(0, f"ok: ./{name}: runsv not running\n"))
    await both.sv("status", expect=(1, f"fail: ./{name}: runsv not running\n"))
    assert runsv.wait() == 0, runsv.output()
    assert daemon.wait() == 0, daemon.stderr()


async def test_sv_status_up_down_start_stop_restart(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors
) -> None:
    both, runsv, daemon = await _pair(tmp_path, start_daemon, peers, "a", RUN)
    await peer_up(both.runit)
    await started(both.ours)

    await both.sv("status", expect=(0, "run: ./a: (pid P) Ns\n"))

    await both.sv("down", expect=(0, ""))
    await both.reach(False, 0, "down after sv down")
    await both.sv("status", expect=(0, "down: ./a: Ns, normally up\n"))

    await both.sv("up", expect=(0, ""))
    await both.reach(True, 1, "up after sv up")
    await both.sv("status", expect=(0, "run: ./a: (pid P) Ns\n"))

    await both.sv("-w", "5", "stop", expect=(0, "ok: down: ./a: Ns, normally up\n"))
    assert both.pids() == (0, 0)

    outputs = await both.sv("-w", "5", "start", expect=(0, "ok: run: ./a: (pid P) Ns\n"))
    assert tuple(map(_printed_pid, outputs)) == both.pids()

    # sv restart takes any status stamped in the second it began as the new
    # start: begin in a later second than the last start, or runsv reports the
    # old pid (a race in sv, not in the supervisor).
    before = both.pids()
    await next_second()
    outputs = await both.sv("-w", "5", "restart", expect=(0, "ok: run: ./a: (pid P) Ns\n"))
    after = tuple(map(_printed_pid, outputs))
    assert after == both.pids()
    assert after[0] != before[0], "runsv was not restarted"
    assert after[1] != before[1], f"sv restart on ours printed the old pid {before[1]}"

    await both.sv("-w", "5", "pause", expect=(0, "ok: run: ./a: (pid P) Ns, paused\n"))
    await both.sv("status", expect=(0, "run: ./a: (pid P) Ns, paused\n"))
    await both.sv("-w", "5", "cont", expect=(0, "ok: run: ./a: (pid P) Ns\n"))

    await both.sv("-w", "5", "stop", expect=(0, "ok: down: ./a: Ns, normally up\n"))
    await _exit_both(both, runsv, daemon)


async def test_sv_got_term_timeout_and_force_stop(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors
) -> None:
    """A service that ignores TERM: byte 18 (got TERM) as runsv sets and clears it."""
    both, runsv, daemon = await _pair(tmp_path, start_daemon, peers, "b", IGNORES_TERM)
    try:
        await peer_up(both.runit)
        await started(both.ours)
        for service in (both.runit, both.ours):  # a TERM before the trap would kill the shell
            await eventually(lambda s=service: (s / "term-ignored").exists(), what="trap set")
        pids = both.pids()

        await both.sv(
            "-w", "1", "down", expect=(1, "timeout: run: ./b: (pid P) Ns, want down, got TERM\n")
        )
        await both.sv("status", expect=(0, "run: ./b: (pid P) Ns, want down, got TERM\n"))
        assert both.pids() == pids

        await both.sv("-w", "5", "kill", expect=(0, "ok: down: ./b: Ns, normally up\n"))
        await both.sv("-w", "5", "up", expect=(0, "ok: run: ./b: (pid P) Ns\n"))
        await both.sv("status", expect=(0, "run: ./b: (pid P) Ns\n"))

        await both.sv(
            "-w", "1", "force-stop", expect=(1, "kill: run: ./b: (pid P) Ns, want down, got TERM\n")
        )
        await both.reach(False, 0, "down after force-stop's kill")
        await both.sv("status", expect=(0, "down: ./b: Ns, normally up\n"))
        await _exit_both(both, runsv, daemon)
    finally:
        release(both.ours)


async def test_sv_finish_state_and_normally_down(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors
) -> None:
    """A down file and a ./finish: ``normally down`` and the ``finish`` state (byte 19 = 2)."""
    both, runsv, daemon = await _pair(
        tmp_path, start_daemon, peers, "c", RUN, finish="exec sleep 1", down=""
    )
    for service in (both.runit, both.ours):
        await eventually(partial(_supervise_made, service), what=f"{service} supervised")
    await both.reach(False, 0, "down at start (down file)")
    await both.sv("status", expect=(0, "down: ./c: Ns\n"))

    await both.sv("-w", "5", "up", expect=(0, "ok: run: ./c: (pid P) Ns, normally down\n"))
    run_pids = both.pids()

    await both.sv("down", expect=(0, ""))
    await both.reach(True, 2, "running ./finish")
    await both.sv("status", expect=(0, "finish: ./c: (pid P) Ns, normally down, want down\n"))
    finish_pids = both.pids()
    assert all(finish_pids) and finish_pids[0] != run_pids[0] and finish_pids[1] != run_pids[1]

    await both.sv("-w", "5", "stop", expect=(0, "ok: down: ./c: Ns\n"))
    await _exit_both(both, runsv, daemon)


async def test_sv_pause_while_down_stat_file(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors
) -> None:
    """runsv keeps the paused flag while down: ``stat`` says ``down, paused``.

    Neither ``sv status`` nor ``svstat`` shows it (both print ``paused`` only
    with a pid), but ``supervise/stat`` is runit's own file, read by people
    and scripts; daemontools has no such file, so nothing forbids saying it.
    """
    both, runsv, daemon = await _pair(tmp_path, start_daemon, peers, "d", RUN)
    await peer_up(both.runit)
    await started(both.ours)
    await both.sv("-w", "5", "stop", expect=(0, "ok: down: ./d: Ns, normally up\n"))

    await both.sv("pause", expect=(0, ""))
    await eventually(
        lambda: _runit_files(both.runit) == ("down, paused\n", ""), what="runsv: down, paused"
    )
    await both.sv("status", expect=(0, "down: ./d: Ns, normally up\n"))

    await both.sv("-w", "5", "up", expect=(0, "ok: run: ./d: (pid P) Ns\n"))
    await both.sv("status", expect=(0, "run: ./d: (pid P) Ns\n"))
    await both.sv("-w", "5", "stop", expect=(0, "ok: down: ./d: Ns, normally up\n"))
    await _exit_both(both, runsv, daemon)

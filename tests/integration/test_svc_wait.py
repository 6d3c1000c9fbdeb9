"""``svc -w``: our client waits for our daemon to get a service up, ready, down or restarted.

Every test runs the real client (``python -m svc.svc``) as a subprocess against
our daemon and checks what it waited for in the status files right after it
returned: 0 once every directory got there, 99 when the deadline (``-T ms``)
passed first (naming each pending directory with its svstat state, and
touching nothing), 1 when a directory cannot get there (no supervisor, or the
service failed permanently). Long waits run in a worker thread so that the
test's trio loop stays alive; elapsed times are checked as lower bounds or
loose upper bounds only.
"""

from __future__ import annotations

import re
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import trio

from supervise.status import ExtraFlag, RunState, Want
from support import (
    IGNORE_TERM_RUN,
    client_waiting,
    eventually,
    make_service,
    pid_alive,
    read_extra,
    read_status,
    send,
    started,
    started_ignoring_term,
    supervisor_listening,
    svc_wait,
    timed_svc,
)

RUN = "exec sleep 1000"
#: ./run that reports readiness on fd 3 one second after it starts
READY_AFTER_1S = "sleep 1; echo >&3; exec sleep 1000"
#: A deadline no success case should come near, even on a loaded machine.
GENEROUS = "15000"
#: A loose upper bound (seconds) for what should be quick: a 700 ms timeout, a hopeless wait.
QUICK = 10.0


async def supervised(service: Path) -> None:
    """Wait until our daemon listens on `service` and has written its status."""
    await eventually(
        lambda: supervisor_listening(service) and read_status(service),
        what=f"{service} supervised",
    )


async def normally_down(tmp_path: Path, start_daemon: Any, name: str = "d", **files: str) -> Path:
    """A service with a ``down`` file under our daemon, supervised and down."""
    service = make_service(tmp_path, name, RUN, down="", **files)
    start_daemon(service)
    await supervised(service)
    assert read_status(service).pid == 0
    return service


def status_bytes(service: Path) -> bytes:
    return (service / "supervise" / "status").read_bytes()


async def failed_permanently(service: Path) -> None:
    """Wait until the daemon has written the failure in full: the flag, and ``status`` down.

    (It writes ``xstatus`` before ``status``: the flag alone may come with the old status.)
    """

    def failed() -> bool:
        record = read_status(service)
        return bool(
            read_extra(service).flags & ExtraFlag.FAILED
            and (record.pid, record.run_state, record.want) == (0, RunState.DOWN, Want.DOWN)
        )

    await eventually(failed, what=f"{service} failed permanently")


def is_up(service: Path) -> bool:
    record = read_status(service)
    return bool(record.pid) and record.run_state is RunState.RUN


# --- -wu / -wU -----------------------------------------------------------------------------


async def test_up_wait_returns_once_up(tmp_path: Path, start_daemon: Any) -> None:
    """``svc -u -wu`` on a down service exits 0, and the status says up when it returns."""
    service = await normally_down(tmp_path, start_daemon)
    result, _ = await svc_wait("-u", "-wu", "-T", GENEROUS, "d", cwd=tmp_path)
    record = read_status(service)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert record.pid and record.run_state is RunState.RUN
    assert pid_alive(record.pid)
    assert record.want is Want.UP


async def test_ready_wait_returns_only_once_ready(tmp_path: Path, start_daemon: Any) -> None:
    """``-u -wU`` with notification-fd returns when the service wrote its newline, not at up."""
    service = make_service(tmp_path, "n", READY_AFTER_1S, down="", notification_fd="3")
    start_daemon(service)
    await supervised(service)
    result, elapsed = await svc_wait("-u", "-wU", "-T", GENEROUS, "n", cwd=tmp_path)
    extra = read_extra(service)
    record = read_status(service)
    assert (result.returncode, result.stderr) == (0, "")
    assert record.pid and record.run_state is RunState.RUN
    assert extra.flags & ExtraFlag.NOTIFY and extra.flags & ExtraFlag.READY
    assert extra.ready_stamp is not None
    assert extra.ready_stamp.unix() - record.stamp.unix() >= 0.9
    assert elapsed >= 0.9, f"returned after {elapsed:.2f} s, before the service was ready"


async def test_ready_wait_without_notification_fd_is_up(tmp_path: Path, start_daemon: Any) -> None:
    """Without notification-fd, ``-wU`` is satisfied by up (s6 counts such a service ready)."""
    service = await normally_down(tmp_path, start_daemon, "plain")
    result, elapsed = await svc_wait("-u", "-wU", "-T", GENEROUS, "plain", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert is_up(service)
    assert not read_extra(service).flags & ExtraFlag.NOTIFY
    assert elapsed < QUICK, f"-wU without notification-fd took {elapsed:.1f} s"


# --- -wd / -wD -----------------------------------------------------------------------------

#: ./finish that runs about 2 s, then leaves a mark
SLOW_FINISH = "sleep 2; echo > finish-done"


async def test_down_wait_returns_while_finish_may_run(tmp_path: Path, start_daemon: Any) -> None:
    """``-d -wd`` returns when ./run is gone, without waiting for a slow ./finish."""
    service = make_service(tmp_path, "f", RUN, finish=SLOW_FINISH)
    start_daemon(service)
    run_pid = (await started(service)).pid
    result, _ = await svc_wait("-d", "-wd", "-T", GENEROUS, "f", cwd=tmp_path)
    record = read_status(service)
    assert (result.returncode, result.stderr) == (0, "")
    assert record.run_state is not RunState.RUN
    assert record.pid != run_pid
    # ./finish sleeps 2 s: -wd did not wait for it
    assert not (service / "finish-done").exists()
    assert record.run_state is RunState.FINISH
    await eventually(lambda: read_status(service).run_state is RunState.DOWN, what="finish done")


async def test_finished_wait_returns_after_finish(tmp_path: Path, start_daemon: Any) -> None:
    """``-d -wD`` returns only once ./finish is done: run state DOWN, no pid, finish's mark."""
    service = make_service(tmp_path, "f", RUN, finish=SLOW_FINISH)
    start_daemon(service)
    await started(service)
    result, elapsed = await svc_wait("-d", "-wD", "-T", GENEROUS, "f", cwd=tmp_path)
    record = read_status(service)
    assert (result.returncode, result.stderr) == (0, "")
    assert (record.pid, record.run_state) == (0, RunState.DOWN)
    assert (service / "finish-done").exists()
    assert not read_extra(service).flags & ExtraFlag.FINISHING
    assert elapsed >= 1.5, f"returned after {elapsed:.2f} s while ./finish sleeps 2 s"


# --- -wr / -wR -----------------------------------------------------------------------------


async def test_restart_wait_returns_with_new_pid(tmp_path: Path, start_daemon: Any) -> None:
    """``-t -wr`` returns once the service was started again: up with another pid."""
    service = make_service(tmp_path, "r", RUN)
    start_daemon(service)
    old = await started(service)
    result, _ = await svc_wait("-t", "-wr", "-T", GENEROUS, "r", cwd=tmp_path)
    record = read_status(service)
    assert (result.returncode, result.stderr) == (0, "")
    assert record.run_state is RunState.RUN
    assert record.pid not in (0, old.pid)
    assert not pid_alive(old.pid)
    assert record.stamp.unix() > old.stamp.unix()


async def test_restart_ready_wait(tmp_path: Path, start_daemon: Any) -> None:
    """``-t -wR`` with notification-fd returns once the new run reported readiness."""
    service = make_service(tmp_path, "rr", READY_AFTER_1S, notification_fd="3")
    start_daemon(service)
    old = await started(service)
    await eventually(lambda: read_extra(service).flags & ExtraFlag.READY, what="first ready")
    result, elapsed = await svc_wait("-t", "-wR", "-T", GENEROUS, "rr", cwd=tmp_path)
    record = read_status(service)
    extra = read_extra(service)
    assert (result.returncode, result.stderr) == (0, "")
    assert record.pid not in (0, old.pid) and record.run_state is RunState.RUN
    assert extra.flags & ExtraFlag.READY
    assert extra.ready_stamp is not None
    assert extra.ready_stamp.unix() - record.stamp.unix() >= 0.9
    assert elapsed >= 0.9, f"returned after {elapsed:.2f} s, before the new run was ready"


# --- deadlines -----------------------------------------------------------------------------


async def test_timeout_names_state_and_touches_nothing(tmp_path: Path, start_daemon: Any) -> None:
    """``-wu -T 700`` on a service that stays down: exit 99, its state on stderr, not started."""
    service = await normally_down(tmp_path, start_daemon)
    before = status_bytes(service)
    result, elapsed = await svc_wait("-wu", "-T", "700", "d", cwd=tmp_path)
    assert result.returncode == 99, result
    assert 0.6 <= elapsed < QUICK, f"-T 700 returned after {elapsed:.2f} s"
    assert result.stdout == ""
    assert re.fullmatch(
        r"svc: warning: timed out waiting for d to be up: down \d+ seconds\n", result.stderr
    ), result.stderr
    await trio.sleep(0.3)
    assert status_bytes(service) == before
    assert read_status(service).pid == 0


async def test_timeout_does_not_kill(tmp_path: Path, start_daemon: Any) -> None:
    """``-d -wd -T 700`` on a service ignoring TERM: exit 99, and the service is not killed."""
    service = make_service(tmp_path, "t", IGNORE_TERM_RUN)
    start_daemon(service)
    pid = (await started_ignoring_term(service)).pid
    try:
        result, elapsed = await svc_wait("-d", "-wd", "-T", "700", "t", cwd=tmp_path)
        assert result.returncode == 99, result
        assert 0.6 <= elapsed < QUICK, f"-T 700 returned after {elapsed:.2f} s"
        assert re.match(
            rf"svc: warning: timed out waiting for t to be down: up \(pid {pid}\) \d+ seconds"
            r".*, want down", result.stderr,
        ), result.stderr
        await trio.sleep(0.5)
        record = read_status(service)
        assert (record.pid, record.want, record.term_sent) == (pid, Want.DOWN, True)
        assert pid_alive(pid)
    finally:
        send(service, b"k")
    await eventually(lambda: read_status(service).pid == 0, what="killed by the test")


async def test_zero_deadline_means_none(tmp_path: Path, start_daemon: Any) -> None:
    """``-T 0`` is no deadline: the wait outlasts the 2 s check interval and exits 0."""
    run = "sleep 2.5; echo >&3; exec sleep 1000"
    service = make_service(tmp_path, "z", run, down="", notification_fd="3")
    start_daemon(service)
    await supervised(service)
    result, elapsed = await svc_wait("-u", "-wU", "-T", "0", "z", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert read_extra(service).flags & ExtraFlag.READY
    assert elapsed >= 2.4


async def test_no_deadline_option_waits(tmp_path: Path, start_daemon: Any) -> None:
    """Without ``-T`` at all the wait has no deadline either."""
    service = make_service(tmp_path, "z", READY_AFTER_1S, down="", notification_fd="3")
    start_daemon(service)
    await supervised(service)
    result, elapsed = await svc_wait("-uwU", "z", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert read_extra(service).flags & ExtraFlag.READY
    assert elapsed >= 0.9


# --- cannot get there ----------------------------------------------------------------------


async def test_no_supervisor_exits_1_at_once(tmp_path: Path) -> None:
    """A directory nobody supervises: daemontools' warning, exit 1 without waiting."""
    make_service(tmp_path, "none", RUN)
    result, elapsed = await svc_wait("-u", "-wu", "-T", "20000", "none", cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr == "svc: warning: unable to control none: file does not exist\n"
    assert elapsed < QUICK


async def test_stopped_supervisor_exits_1_at_once(tmp_path: Path, start_daemon: Any) -> None:
    """A directory whose supervisor has exited: ``supervise not running``, exit 1 at once."""
    service = make_service(tmp_path, "gone", RUN, down="")
    daemon = start_daemon(service)
    await supervised(service)
    assert daemon.stop() == 0
    for wait in ("-wu", "-wd"):
        result, elapsed = await svc_wait("-u", wait, "-T", "20000", "gone", cwd=tmp_path)
        assert result.returncode == 1, result
        assert result.stderr == "svc: warning: unable to control gone: supervise not running\n"
        assert elapsed < QUICK


async def test_supervisor_exiting_during_wait(tmp_path: Path, start_daemon: Any) -> None:
    """The supervisor exits while ``-wu`` waits: the client notices and exits 1, long before -T."""
    service = make_service(tmp_path, "bye", RUN, down="")
    daemon = start_daemon(service)
    await supervised(service)
    outcome: list[tuple[subprocess.CompletedProcess[str], float]] = []

    async def waiter() -> None:
        outcome.append(await svc_wait("-wu", "-T", "30000", "bye", cwd=tmp_path))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await client_waiting("svc.svc", "-wu", "bye")
        began = time.monotonic()
        assert daemon.stop() == 0
    (result, _), after_stop = outcome[0], time.monotonic() - began
    assert result.returncode == 1, result
    # not "unable to control bye": that is the client that came too late to wait
    assert result.stderr == "svc: warning: bye will not be up: supervise not running\n"
    assert after_stop < QUICK


async def test_failed_permanently_without_up_exits_1(tmp_path: Path, start_daemon: Any) -> None:
    """A service that failed permanently (finish exit 125) and gets no ``u``: exit 1 quickly."""
    service = make_service(tmp_path, "pf", "exit 1", finish="exit 125")
    start_daemon(service)
    await failed_permanently(service)
    before = status_bytes(service)
    result, elapsed = await svc_wait("-wu", "-T", "20000", "pf", cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr == "svc: warning: pf will not be up: failed permanently\n"
    assert elapsed < QUICK
    assert status_bytes(service) == before
    # it is down all right: -wd is satisfied at once
    result, _ = await svc_wait("-wd", "-T", "20000", "pf", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


async def test_up_clears_permanent_failure(tmp_path: Path, start_daemon: Any) -> None:
    """``-u -wu`` on a permanently failed service whose ./run now works: up, exit 0.

    ``u`` clears the failure, so the client must not take the stale flag it
    reads before the daemon took the ``u`` for a verdict.
    """
    run = "[ -e works ] && exec sleep 1000; exit 1"
    service = make_service(tmp_path, "pf", run, finish="[ -e works ] || exit 125")
    start_daemon(service)
    await failed_permanently(service)
    (service / "works").write_text("")
    result, _ = await svc_wait("-u", "-wu", "-T", GENEROUS, "pf", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert is_up(service)
    assert not read_extra(service).flags & ExtraFlag.FAILED


async def test_failing_permanently_during_wait_exits_1(
    tmp_path: Path, start_daemon: Any
) -> None:
    """``-u -wU`` on a service that fails permanently on this very start, never ready: exit 1.

    (``-wU``, not ``-wu``: ./run is up for a moment before it exits, and -wu may see that.)
    """
    service = make_service(
        tmp_path, "pf", "exit 1", down="", finish="exit 125", notification_fd="3"
    )
    start_daemon(service)
    await supervised(service)
    result, elapsed = await svc_wait("-u", "-wU", "-T", "20000", "pf", cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr == "svc: warning: pf will not be up and ready: failed permanently\n"
    assert elapsed < QUICK
    assert read_extra(service).flags & ExtraFlag.FAILED


async def test_up_on_failed_service_that_fails_again(tmp_path: Path, start_daemon: Any) -> None:
    """``-u -wU`` on a failed service whose ./run still fails (never ready): it is started
    again, fails again, and the client says so (exit 1) rather than wait for the deadline."""
    service = make_service(
        tmp_path, "pf", "echo . >> starts; exit 1", finish="exit 125", notification_fd="3"
    )
    start_daemon(service)
    await failed_permanently(service)
    assert (service / "starts").read_text() == ".\n"
    result, elapsed = await svc_wait("-u", "-wU", "-T", "20000", "pf", cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr == "svc: warning: pf will not be up and ready: failed permanently\n"
    assert elapsed < QUICK
    assert (service / "starts").read_text() == ".\n.\n"
    assert read_extra(service).flags & ExtraFlag.FAILED


async def test_down_and_exit_waits_for_finish(tmp_path: Path, start_daemon: Any) -> None:
    """``-dx -wD``: the service goes down, ./finish runs, the daemon exits; the client
    saw the service get there (exit 0) though its supervisor is gone by now."""
    service = make_service(tmp_path, "dx", RUN, finish="sleep 0.5; echo > finish-done")
    daemon = start_daemon(service)
    await started(service)
    result, _ = await svc_wait("-dx", "-wD", "-T", GENEROUS, "dx", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert (service / "finish-done").exists()
    assert daemon.wait() == 0


# --- several directories -------------------------------------------------------------------


async def test_several_directories_all_up(tmp_path: Path, start_daemon: Any) -> None:
    """``-u -wU a b c``: returns only when all are there, the slowest to get ready included."""
    a = make_service(tmp_path, "a", RUN, down="")
    b = make_service(tmp_path, "b", READY_AFTER_1S, down="", notification_fd="3")
    c = make_service(tmp_path, "c", RUN, down="")
    start_daemon(a, b, c)
    for service in (a, b, c):
        await supervised(service)
    result, elapsed = await svc_wait("-u", "-wU", "-T", GENEROUS, "a", "b", "c", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert all(is_up(service) for service in (a, b, c))
    assert read_extra(b).flags & ExtraFlag.READY
    assert elapsed >= 0.9


async def test_several_directories_timeout_names_pending_only(
    tmp_path: Path, start_daemon: Any
) -> None:
    """``-wu -T 700 up down``: 99, and only the directory still down is named."""
    up = make_service(tmp_path, "up", RUN)
    down = make_service(tmp_path, "down", RUN, down="")
    start_daemon(up, down)
    await started(up)
    await supervised(down)
    result, _ = await svc_wait("-wu", "-T", "700", "up", "down", cwd=tmp_path)
    assert result.returncode == 99, result
    assert re.fullmatch(
        r"svc: warning: timed out waiting for down to be up: down \d+ seconds\n", result.stderr
    ), result.stderr
    assert read_status(down).pid == 0


async def test_several_directories_one_unsupervised(tmp_path: Path, start_daemon: Any) -> None:
    """One directory without a supervisor among good ones: the others are waited for, exit 1."""
    good = make_service(tmp_path, "good", RUN, down="")
    make_service(tmp_path, "none", RUN)
    start_daemon(good)
    await supervised(good)
    result, _ = await svc_wait("-u", "-wu", "-T", GENEROUS, "none", "good", cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr == "svc: warning: unable to control none: file does not exist\n"
    assert is_up(good)


# --- no busy waiting -----------------------------------------------------------------------


async def test_waiting_does_not_spin(tmp_path: Path, start_daemon: Any) -> None:
    """Waiting 3 s for a state that never comes costs little CPU and few context switches.

    The deltas of RUSAGE_CHILDREN around one synchronous subprocess count only
    that client: the daemon is a child too, but it is not reaped meanwhile.
    """
    await normally_down(tmp_path, start_daemon)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result, elapsed = timed_svc("-wu", "-T", "3000", "d", cwd=tmp_path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 99, result
    assert elapsed >= 2.9
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    switches = after.ru_nvcsw - before.ru_nvcsw
    assert cpu < 0.8, f"the waiting client used {cpu:.2f} s of CPU in 3 s"
    assert switches < 100, f"the waiting client slept {switches} times in 3 s"

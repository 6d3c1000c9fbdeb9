"""./finish, and s6's files: timeout-kill, timeout-finish, down-signal, notification-fd."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from supervise.status import ExtraFlag, RunState, Want
from support import (
    IGNORE_TERM_RUN,
    eventually,
    make_service,
    pid_alive,
    read_extra,
    read_status,
    send,
    started,
    started_ignoring_term,
    supervisor_listening,
)

RECORD_ARGS = 'echo "$@" >> finish-args'


async def test_finish_gets_exit_code_and_signal(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(
        tmp_path, "f", "exit 3", finish=RECORD_ARGS + "; sleep 0.3", down=""
    )
    start_daemon(service)
    await eventually(lambda: supervisor_listening(service))
    send(service, b"o")
    # while ./finish runs, byte 19 is 2 and the pid is finish's (as runit shows it)
    finishing = await eventually(
        lambda: (r := read_status(service)).run_state is RunState.FINISH and r.pid and r
    )
    assert pid_alive(finishing.pid)  # type: ignore[union-attr]
    assert read_extra(service).flags & ExtraFlag.FINISHING
    await eventually(lambda: read_status(service).run_state is RunState.DOWN, what="down")
    assert (service / "finish-args").read_text() == "3 0\n"
    extra = read_extra(service)
    assert (extra.exit_code, extra.exit_signal) == (3, 0)


async def test_finish_after_kill_gets_minus_one_and_signal(
    tmp_path: Path, start_daemon: Any
) -> None:
    service = make_service(tmp_path, "fk", "exec sleep 1000", finish=RECORD_ARGS)
    start_daemon(service)
    await started(service)
    send(service, b"dk")
    await eventually(lambda: (service / "finish-args").read_text() == "-1 15\n")


async def test_finish_is_killed_after_timeout_finish(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(
        tmp_path, "ft", "exit 0", finish="exec sleep 1000", timeout_finish="200", down=""
    )
    start_daemon(service)
    await eventually(lambda: supervisor_listening(service))
    send(service, b"o")
    finish = await eventually(
        lambda: (r := read_status(service)).run_state is RunState.FINISH and r.pid
    )
    await eventually(lambda: read_status(service).run_state is RunState.DOWN, what="finish killed")
    assert not pid_alive(finish)  # type: ignore[arg-type]


async def test_timeout_kill_sends_sigkill_after_down(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "tk", IGNORE_TERM_RUN, timeout_kill="200")
    start_daemon(service)
    await started_ignoring_term(service)
    send(service, b"d")
    await eventually(lambda: read_status(service).pid == 0, what="killed")
    assert read_extra(service).exit_signal == 9


async def test_without_timeout_kill_a_term_ignoring_service_stays_up(
    tmp_path: Path, start_daemon: Any
) -> None:
    service = make_service(tmp_path, "nk", IGNORE_TERM_RUN)
    start_daemon(service)
    pid = (await started_ignoring_term(service)).pid
    send(service, b"d")
    await eventually(lambda: read_status(service).want is Want.DOWN)
    record = read_status(service)
    assert (record.pid, record.term_sent) == (pid, True)
    send(service, b"k")
    await eventually(lambda: read_status(service).pid == 0)


async def test_down_signal(tmp_path: Path, start_daemon: Any) -> None:
    run = "trap 'echo HUP > got; exit 0' HUP; echo > ready; while :; do sleep 0.05; done"
    service = make_service(tmp_path, "ds", run, down_signal="SIGHUP")
    start_daemon(service)
    await started(service)
    await eventually(lambda: (service / "ready").exists())
    send(service, b"d")
    await eventually(lambda: read_status(service).pid == 0)
    assert (service / "got").read_text() == "HUP\n"


async def test_notification_fd_readiness(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(
        tmp_path, "n", "sleep 0.3; echo >&3; exec sleep 1000", notification_fd="3"
    )
    start_daemon(service)
    up = await started(service)
    assert not read_extra(service).flags & ExtraFlag.READY
    extra = await eventually(lambda: (e := read_extra(service)).flags & ExtraFlag.READY and e)
    assert extra.flags & ExtraFlag.NOTIFY  # type: ignore[union-attr]
    ready_at = extra.ready_stamp.unix()  # type: ignore[union-attr]
    assert ready_at - up.stamp.unix() >= 0.25
    send(service, b"k")  # a new start is not ready until it says so
    await eventually(lambda: read_status(service).pid not in (0, up.pid))
    assert not read_extra(service).flags & ExtraFlag.READY


async def test_permanent_failure_stays_down_until_up(tmp_path: Path, start_daemon: Any) -> None:
    service = make_service(tmp_path, "pf", "echo . >> starts; exit 1", finish="exit 125")
    start_daemon(service)
    await eventually(lambda: read_extra(service).flags & ExtraFlag.FAILED, what="failed")
    record = read_status(service)
    assert (record.pid, record.want) == (0, Want.DOWN)
    await trio.sleep(1.2)  # a restart would have happened by now
    assert (service / "starts").read_text() == ".\n"
    (service / "finish").unlink()
    send(service, b"u")
    await eventually(lambda: len((service / "starts").read_text()) >= 4, what="restarted")
    # ./run may append before the status of its start is written: wait for that status
    await eventually(lambda: not read_extra(service).flags & ExtraFlag.FAILED, what="not failed")
    send(service, b"d")

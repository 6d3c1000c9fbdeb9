"""`Healer` in virtual time: a guarded task is started again after a fault, parked once the
daemon gives up, and the signal task's scope ends when a re-exec is due; a failed re-exec is
tried again, backing off. Nothing is executed: the program to re-execute does not exist."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from supervise import healing
from supervise.healer import Healer


class Boom(Exception):
    pass


async def test_a_faulted_task_is_started_again_and_the_reexec_is_due_at_once(
    autojump_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    healer = Healer()
    runs: list[float] = []

    async def task(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        runs.append(trio.current_time())
        task_status.started()
        if len(runs) == 1:
            raise Boom("first run")

    async with trio.open_nursery() as nursery:
        await nursery.start(healer.guarded, "the reaper", task)
    assert len(runs) == 2
    assert healer.at == runs[0]  # healing.REEXEC: no wait
    said = capsys.readouterr().err
    assert "internal error in the reaper: Boom('first run'): re-executing, services kept" in said
    assert len(healer.history.faults) == 1


async def test_too_many_faults_park_the_task_until_a_forced_stop(
    autojump_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    healer = Healer()
    runs = 0

    async def task(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal runs
        runs += 1
        raise Boom(f"run {runs}")

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(healer.guarded, "the scan", task)
        await trio.sleep(3600)
        assert runs == healing.MAX_FAULTS  # the last fault gave up: parked since
        assert healer.at - start == pytest.approx(healing.PAUSE_FIRST)
        healer.abandon.set()
    assert runs == healing.MAX_FAULTS
    assert "no longer re-executing, keeping what runs; trying again in 60 seconds" in (
        capsys.readouterr().err
    )


async def test_an_orderly_end_is_not_a_fault(autojump_clock: MockClock) -> None:
    healer = Healer()
    raised: list[BaseException] = []
    with trio.move_on_after(1):
        try:
            await trio.sleep_forever()
        except trio.Cancelled as cancelled:
            try:
                healer.caught(cancelled, "the readers")
            except trio.Cancelled as again:
                raised.append(again)
                raise
    assert len(raised) == 1
    assert healer.at == math.inf and healer.history.faults == ()


async def test_a_fault_while_listening_ends_the_listening_scope(
    autojump_clock: MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    healer = Healer()
    start = trio.current_time()

    async def fault_later() -> None:
        await trio.sleep(5)
        healer.fault(Boom("in a callback"), "the reaper callback")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fault_later)
        with healer.listening() as scope:
            await trio.sleep_forever()
        healer.done_listening()
    assert scope.cancelled_caught and trio.current_time() - start == 5
    assert "internal error in the reaper callback" in capsys.readouterr().err


async def test_a_failed_reexec_is_tried_again_backing_off(
    autojump_clock: MockClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    healer = Healer()
    missing = [str(tmp_path / "gone" / "svscan")]
    healer.fault(Boom("bug"), "the scan")
    delays = []
    for _ in range(3):
        before = trio.current_time()
        healer.reexec(missing, lambda: (None, []), stopping=False)
        delays.append(healer.at - before)
        await trio.sleep(healer.at - before)
    assert delays == [1.0, 2.0, 4.0]
    said = capsys.readouterr().err
    assert said.count("unable to re-execute after an internal error, still running") == 3
    assert str(tmp_path / "gone") in said


async def test_a_failed_reexec_on_sighup_is_said_and_not_retried(
    autojump_clock: MockClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    healer = Healer()
    healer.reexec([str(tmp_path / "gone")], lambda: (None, []), stopping=False)
    assert healer.at == math.inf
    assert "unable to re-execute on SIGHUP, still running" in capsys.readouterr().err

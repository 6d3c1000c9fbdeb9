"""What makes a pid from a dead supervisor's status "the same process", and the state it resumes."""

from __future__ import annotations

import os

import pytest

from supervise import adoption, machine, status
from supervise.status import Extra, ExtraFlag, RunState, Status, Want
from supervise.tai import Tai64n

HZ = os.sysconf("SC_CLK_TCK")
#: A /proc/PID/stat line whose command name holds ") (" and spaces, as a hostile one may.
LINE = "4242 (evil) (name ) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {start} 1 2"


def test_proc_stat_parse_reads_after_the_last_parenthesis() -> None:
    proc = adoption.ProcStat.parse(LINE.format(start=12345))
    assert (proc.state, proc.session, proc.start_ticks) == ("S", 4242, 12345)


@pytest.mark.parametrize(
    ("state", "session", "offset", "own_session", "same"),
    [
        ("S", 4242, 0.0, True, True),
        ("R", 4242, 1.5, True, True),  # the stamp is written after exec: some slack
        ("T", 4242, -1.5, True, True),  # paused (svc -p) is still the same process
        ("S", 4242, adoption.TOLERANCE + 0.5, True, False),  # started at another time: reused
        ("Z", 4242, 0.0, True, False),  # a zombie is gone
        ("S", 1, 0.0, True, False),  # services lead their own session; this one does not
        ("S", 1, 0.0, False, True),  # unless the directory says nosetsid
    ],
)
def test_is_same(state: str, session: int, offset: float, own_session: bool, same: bool) -> None:
    boot = 1_700_000_000.0
    proc = adoption.ProcStat(state, session, 500 * HZ)
    stamp = boot + 500 + offset
    assert adoption.is_same(proc, 4242, stamp, boot, own_session) is same


def test_claim_refuses_a_pid_that_does_not_exist() -> None:
    assert adoption.claim(2**22 + 1, 0.0, True) is None  # above pid_max's ceiling


def test_claim_takes_our_own_process_only_at_its_start_time() -> None:
    with open(f"/proc/{os.getpid()}/stat") as file:
        proc = adoption.ProcStat.parse(file.read())
    started = proc.started(adoption.boot_time())
    pidfd = adoption.claim(os.getpid(), started, own_session=False)
    assert pidfd is not None
    os.close(pidfd)
    assert adoption.claim(os.getpid(), started - 3600, own_session=False) is None


def _record(**fields: object) -> Status:
    return Status(Tai64n.from_unix(1_700_000_123.456789), **fields)  # type: ignore[arg-type]


def test_adopted_carries_the_record_on() -> None:
    record = _record(pid=77, paused=True, want=Want.DOWN, term_sent=True, run_state=RunState.RUN)
    state = machine.adopted(record, None)
    assert (state.phase, state.pid, state.paused, state.want, state.term_sent) == (
        machine.Phase.RUN, 77, True, Want.DOWN, True,
    )
    assert status.pack(machine.status_of(state)) == status.pack(record)  # rewritten unchanged
    assert state.last_start == state.stamp and not state.ready


def test_adopted_readiness_comes_from_the_bound_xstatus() -> None:
    ready_at = Tai64n.from_unix(1_700_000_200.5)
    extra = Extra(ExtraFlag.NOTIFY | ExtraFlag.READY, ready_at)
    state = machine.adopted(_record(pid=5, run_state=RunState.RUN), extra)
    assert state.ready and Tai64n.from_unix(state.ready_stamp or 0) == ready_at
    waiting = machine.adopted(_record(pid=5, run_state=RunState.RUN), Extra(ExtraFlag.NOTIFY))
    assert not waiting.ready and waiting.notify


def test_an_unknown_exit_is_not_reported_as_an_exit() -> None:
    state = machine.adopted(_record(pid=9, run_state=RunState.RUN), None)
    down = machine.step(state, machine.RunExited(*machine.UNKNOWN_EXIT), 1_700_000_300.0).state
    assert down.phase is machine.Phase.RUN or down.pid != 9  # restarted: wants up
    flags = machine.extra_of(down).flags
    assert not flags & ExtraFlag.EXITED

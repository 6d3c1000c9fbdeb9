"""svc -w's rules: when a directory has reached its goal, and when it never will.

Views are built directly from record bytes shaped like each supervisor's:
daemontools' 18 bytes (no run state: a pid means up, and up means ready),
runit's 20 (byte 19: 0 down, 1 run, 2 finish; finish counts as down for ``d``
but not for ``D``), and ours, 20 bytes plus an xstatus (NOTIFY without READY
is not ready; FAILED is hopeless for u U r R; FINISHING is not "finish done").
"""

from __future__ import annotations

import os

import pytest

from supervise import record
from supervise.layout import (
    EXITED,
    FAILED,
    FINISHING,
    NOTIFY,
    READY,
    STATE_DOWN,
    STATE_FINISH,
    STATE_RUN,
    WANT_DOWN,
    WANT_UP,
)
from supervise.tai import Tai64n
from svc import view
from svc.view import View
from svc.wait import GOALS, hopeless, reached

LABEL = 0x400000006B01D5B5
LATER = LABEL + 3
NANOS = 0x3726B4AC


def _pack(label: int, nanos: int, pid: int, want: int, term: bool, state: int | None) -> bytes:
    return record.pack(record.Status(Tai64n(label, nanos), pid, False, want, term, state))


def _view(data: bytes, extra: record.Extra | None = None) -> View:
    v = View()
    v.record = data
    v.status = record.unpack(data)
    if extra is not None:
        v.extra = record.unpack_extra(record.pack_extra(extra, data))
    return v


def dt(pid: int, want: int = WANT_UP, label: int = LABEL, nanos: int = NANOS) -> View:
    """daemontools' 18-byte record: no run state, no xstatus."""
    return _view(_pack(label, nanos, pid, want, False, None))


def runit(
    pid: int, state: int, want: int = WANT_UP, term: bool = False, label: int = LABEL
) -> View:
    """runit's 20-byte record, no xstatus."""
    return _view(_pack(label, NANOS, pid, want, term, state))


def ours(
    pid: int, state: int, flags: int, want: int = WANT_UP, label: int = LABEL,
    ready: tuple[int, int] | None = None,
) -> View:
    """Our 20-byte record with the xstatus written with it."""
    data = _pack(label, NANOS, pid, want, False, state)
    return _view(data, record.Extra(flags, None if ready is None else Tai64n(*ready)))


def broken(text: str = "supervise not running") -> View:
    return View().failed(view.NOT_RUNNING, text)


#: (name, view, reached u, U, d, D) with no `before`
STATES: list[tuple[str, View, tuple[bool, bool, bool, bool]]] = [
    ("dt up", dt(383), (True, True, False, False)),
    ("dt up, want down", dt(383, WANT_DOWN), (True, True, False, False)),
    ("dt down", dt(0, WANT_DOWN), (False, False, True, True)),
    ("dt down, want up", dt(0), (False, False, True, True)),
    ("runit run", runit(18428, STATE_RUN), (True, True, False, False)),
    ("runit run, got TERM", runit(18428, STATE_RUN, WANT_DOWN, term=True),
     (True, True, False, False)),
    ("runit finish: down for d, not for D", runit(20500, STATE_FINISH, WANT_DOWN),
     (False, False, True, False)),
    ("runit down", runit(0, STATE_DOWN, WANT_DOWN), (False, False, True, True)),
    ("ours run, no notification-fd: up is ready", ours(383, STATE_RUN, 0),
     (True, True, False, False)),
    ("ours run, NOTIFY without READY: not ready", ours(383, STATE_RUN, NOTIFY),
     (True, False, False, False)),
    ("ours run, NOTIFY+READY", ours(383, STATE_RUN, NOTIFY | READY, ready=(LATER, 0)),
     (True, True, False, False)),
    ("ours finish (state 2, finish pid)", ours(20500, STATE_FINISH, FINISHING | EXITED),
     (False, False, True, False)),
    ("ours down, FINISHING flag", ours(0, STATE_DOWN, FINISHING | EXITED),
     (False, False, True, False)),
    ("ours down, exited", ours(0, STATE_DOWN, EXITED), (False, False, True, True)),
    ("ours down, failed permanently", ours(0, STATE_DOWN, FAILED | EXITED),
     (False, False, True, True)),
    ("ours down, stale READY flag", ours(0, STATE_DOWN, NOTIFY | READY, ready=(LATER, 0)),
     (False, False, True, True)),
    ("no supervisor", broken(), (False, False, False, False)),
]


@pytest.mark.parametrize(("name", "v", "expected"), STATES, ids=[s[0] for s in STATES])
def test_reached_state_goals(name: str, v: View, expected: tuple[bool, ...]) -> None:
    """u U d D depend only on the view: run state, pid, readiness and finish."""
    assert tuple(reached(goal, v, None) for goal in "uUdD") == expected


@pytest.mark.parametrize(("name", "v", "expected"), STATES, ids=[s[0] for s in STATES])
def test_state_goals_ignore_before(name: str, v: View, expected: tuple[bool, ...]) -> None:
    """`before` matters only for r and R: the same view reaches u U d D whatever it was."""
    for before in (v, dt(0), broken()):
        assert tuple(reached(goal, v, before) for goal in "uUdD") == expected


@pytest.mark.parametrize(("name", "v", "expected"), STATES, ids=[s[0] for s in STATES])
def test_restart_goals_without_before(name: str, v: View, expected: tuple[bool, ...]) -> None:
    """With no `before` (or one that was an error), r is u and R is U."""
    up, ready = expected[0], expected[1]
    assert (reached("r", v, None), reached("R", v, None)) == (up, ready)
    assert (reached("r", v, broken()), reached("R", v, broken())) == (up, ready)


#: (name, before, after, reached r, reached R)
RESTARTS: list[tuple[str, View, View, bool, bool]] = [
    ("dt unchanged", dt(383), dt(383), False, False),
    ("dt unchanged but want changed", dt(383), dt(383, WANT_DOWN), False, False),
    ("dt new pid and stamp", dt(383), dt(384, label=LATER), True, True),
    ("dt same pid, new stamp", dt(383), dt(383, label=LATER), True, True),
    ("dt same second, new nanoseconds", dt(383), dt(384, nanos=NANOS + 1000), True, True),
    ("dt went down, not up again", dt(383), dt(0, label=LATER), False, False),
    ("dt was down, now up", dt(0), dt(383, label=LATER), True, True),
    ("dt was down, still down", dt(0), dt(0), False, False),
    ("runit restarted", runit(18428, STATE_RUN), runit(18500, STATE_RUN, label=LATER),
     True, True),
    ("runit in finish: not up", runit(18428, STATE_RUN),
     runit(20500, STATE_FINISH, label=LATER), False, False),
    ("runit got TERM, not yet dead", runit(18428, STATE_RUN),
     runit(18428, STATE_RUN, WANT_UP, term=True), False, False),
    ("ours restarted, NOTIFY not READY: r only", ours(383, STATE_RUN, NOTIFY | READY),
     ours(384, STATE_RUN, NOTIFY, label=LATER), True, False),
    ("ours restarted and ready", ours(383, STATE_RUN, NOTIFY | READY),
     ours(384, STATE_RUN, NOTIFY | READY, label=LATER, ready=(LATER, 0)), True, True),
    ("ours unchanged and ready", ours(383, STATE_RUN, NOTIFY | READY),
     ours(383, STATE_RUN, NOTIFY | READY), False, False),
    ("before had no supervisor, now up", broken(), dt(383), True, True),
    ("now no supervisor", dt(383), broken(), False, False),
]


@pytest.mark.parametrize(
    ("name", "before", "after", "restarted", "restarted_ready"),
    RESTARTS,
    ids=[r[0] for r in RESTARTS],
)
def test_restarted(
    name: str, before: View, after: View, restarted: bool, restarted_ready: bool
) -> None:
    """r needs up and an identity (stamp, pid) other than `before`'s; R also needs ready."""
    assert reached("r", after, before) is restarted
    assert reached("R", after, before) is restarted_ready


def test_identity_is_stamp_and_pid() -> None:
    """identity() is what changes on each start or stop; want, paused, state don't count."""
    assert dt(383).identity() == (LABEL, NANOS, 383)
    assert runit(383, STATE_RUN, WANT_DOWN, term=True).identity() == dt(383).identity()
    assert View().identity() == (0, 0, 0)


def test_reached_returns_bool() -> None:
    """reached() is a plain bool for every goal (callers may compare with `is`)."""
    for goal in GOALS:
        for _, v, _ in STATES:
            assert reached(goal, v, None) in (True, False)
            assert isinstance(reached(goal, v, dt(383)), bool)


def test_goals() -> None:
    """The six goals s6-svc knows, ours (E), and what the messages call them."""
    assert "".join(GOALS) == "uUdDErR"
    assert GOALS["D"] == "down with finish done"
    assert GOALS["E"] == "down with its process tree empty"


def _followed(v: View, sid: int) -> View:
    v.followed = ("session", str(sid))
    return v


def test_e_waits_for_the_tree_as_well() -> None:
    """E: D's rule, and nothing left in the tree. This test's own session is not empty;
    a session no process has (pid_max is at most 2**22) is."""
    mine = os.getsid(0)
    assert not reached("E", _followed(runit(0, STATE_DOWN), mine), None)
    assert reached("D", _followed(runit(0, STATE_DOWN), mine), None)
    assert reached("E", _followed(runit(0, STATE_DOWN), 2**22 + 7), None)
    assert not reached("E", _followed(runit(12, STATE_RUN), 2**22 + 7), None)
    assert not reached("E", _followed(runit(13, STATE_FINISH), 2**22 + 7), None)
    assert reached("E", runit(0, STATE_DOWN), None), "a tree not followed counts as empty"


# --- hopeless -------------------------------------------------------------------------------


@pytest.mark.parametrize("goal", list(GOALS))
def test_hopeless_without_supervisor(goal: str) -> None:
    """A view that is an error is hopeless for every goal, and the reason is its text."""
    v = broken("unable to open supervise/ok: file does not exist")
    assert hopeless(goal, v, None, b"u") == "unable to open supervise/ok: file does not exist"


@pytest.mark.parametrize("goal", list(GOALS))
@pytest.mark.parametrize(
    "v",
    [dt(383), dt(0), runit(20500, STATE_FINISH), ours(0, STATE_DOWN, EXITED),
     ours(383, STATE_RUN, NOTIFY)],
)
def test_not_hopeless_while_it_may_get_there(goal: str, v: View) -> None:
    """Without a permanent failure or an error, every goal may still be reached."""
    assert hopeless(goal, v, None, b"u") is None
    assert hopeless(goal, v, v, b"") is None


FAILED_DOWN = ours(0, STATE_DOWN, FAILED | EXITED)


@pytest.mark.parametrize("goal", list("uUrR"))
def test_failed_is_hopeless_for_up_goals(goal: str) -> None:
    """Failed permanently: never up, so u U r R give up, naming why."""
    assert hopeless(goal, FAILED_DOWN, None, b"u") == "failed permanently"
    assert hopeless(goal, FAILED_DOWN, None, b"") == "failed permanently"


@pytest.mark.parametrize("goal", list("dD"))
def test_failed_is_not_hopeless_for_down_goals(goal: str) -> None:
    """A permanently failed service is down: d and D can be reached (and are)."""
    assert hopeless(goal, FAILED_DOWN, None, b"d") is None
    assert reached(goal, FAILED_DOWN, None)


@pytest.mark.parametrize("goal", list("uUrR"))
@pytest.mark.parametrize("sent", [b"u", b"o", b"du", b"tcu", b"xo"])
def test_failed_stale_while_unchanged_after_u_or_o(goal: str, sent: bytes) -> None:
    """After `u` or `o`, FAILED from a record unchanged since `before` may be stale: wait."""
    before = ours(0, STATE_DOWN, FAILED | EXITED)
    assert hopeless(goal, FAILED_DOWN, before, sent) is None


@pytest.mark.parametrize("goal", list("uUrR"))
@pytest.mark.parametrize("sent", [b"", b"t", b"d", b"tc", b"h"])
def test_failed_unchanged_without_u_or_o_is_hopeless(goal: str, sent: bytes) -> None:
    """Nothing sent clears FAILED unless it contains `u` or `o`: hopeless at once."""
    before = ours(0, STATE_DOWN, FAILED | EXITED)
    assert hopeless(goal, FAILED_DOWN, before, sent) == "failed permanently"


@pytest.mark.parametrize("goal", list("uUrR"))
def test_failed_after_record_changed_is_hopeless(goal: str) -> None:
    """Once the supervisor rewrote the record since `before`, FAILED is current: give up."""
    before = ours(383, STATE_RUN, 0)
    assert hopeless(goal, FAILED_DOWN, before, b"u") == "failed permanently"
    later = ours(0, STATE_DOWN, FAILED | EXITED, label=LATER)
    assert hopeless(goal, later, FAILED_DOWN, b"u") == "failed permanently"


@pytest.mark.parametrize("goal", list("uUrR"))
def test_failed_with_before_error_is_hopeless(goal: str) -> None:
    """A `before` that could not be read has no record to compare: FAILED counts."""
    assert hopeless(goal, FAILED_DOWN, broken(), b"u") == "failed permanently"


def test_daemontools_and_runit_never_failed() -> None:
    """Records without our xstatus carry no FAILED flag, so nothing is hopeless for them."""
    for v in (dt(0, WANT_DOWN), runit(0, STATE_DOWN, WANT_DOWN)):
        for goal in GOALS:
            assert hopeless(goal, v, v, b"") is None


# --- a supervisor that wrote its last status and exited (svc -dx -wD) -------------------


def _gone(v: View) -> View:
    """`v` as read once the supervisor has let go of supervise/ok: svstat's error, fields kept."""
    return v.failed(view.NOT_RUNNING, "supervise not running")


@pytest.mark.parametrize("goal", ["d", "D"])
def test_down_written_before_exit_counts_for_down(goal: str) -> None:
    """``svc -dx -wD``: the supervisor wrote "down" and exited; the service did get down."""
    assert reached(goal, _gone(runit(0, STATE_DOWN, WANT_DOWN)), None)
    assert reached(goal, _gone(dt(0, WANT_DOWN)), None)


@pytest.mark.parametrize("goal", ["u", "U", "r", "R"])
def test_no_supervisor_never_counts_for_up(goal: str) -> None:
    """Up and ready need a supervisor: its last record saying up proves nothing now."""
    v = _gone(runit(77, STATE_RUN))
    assert not reached(goal, v, None)
    assert hopeless(goal, v, None, b"") == "supervise not running"


def test_no_supervisor_with_service_up_is_not_down() -> None:
    """A supervisor killed while its service runs: the record says up, so not down."""
    v = _gone(runit(77, STATE_RUN))
    assert not reached("d", v, None)
    assert hopeless("d", v, None, b"d") == "supervise not running"


def test_unreadable_directory_counts_for_nothing() -> None:
    """Any other error (here: bad format) is never "down", even with fields left over."""
    v = runit(0, STATE_DOWN).failed(view.UNREADABLE, "unable to read supervise/status: bad format")
    assert not reached("d", v, None)

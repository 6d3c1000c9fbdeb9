"""svstat --check: every kind of directory's category and level, and the summary line.

Views are built as in test_svstat_text (no files, no processes).
"""

from __future__ import annotations

import pytest
from test_svstat_text import make, ours, record

from supervise.layout import (
    EXITED,
    FAILED,
    FINISHING,
    STATE_DOWN,
    STATE_FINISH,
    STATE_RUN,
    WANT_DOWN,
    WANT_ONCE,
)
from svc import check, svstat, view
from svc.check import CRITICAL, OK, WARNING, judge, summary
from svc.view import View

CASES = [
    # (what, view, category, level)
    ("up, ours", lambda: ours(42, STATE_RUN, 0), "up", OK),
    ("up, daemontools' 18 bytes", lambda: make(record(42)), "up", OK),
    ("up though wanted down (stopping)", lambda: ours(42, STATE_RUN, 0, want=WANT_DOWN), "up", OK),
    ("down, normally down", lambda: make(record(0, want=WANT_DOWN), normally_up=False),
     "down", OK),
    ("down by svc -d, normally up", lambda: make(record(0, want=WANT_DOWN)), "down", CRITICAL),
    ("ran once and ended, normally up", lambda: ours(0, STATE_DOWN, EXITED, want=WANT_ONCE),
     "down", CRITICAL),
    ("wanted up, between two runs", lambda: ours(0, STATE_DOWN, EXITED), "backing off", WARNING),
    ("wanted up, running finish", lambda: ours(7, STATE_FINISH, FINISHING), "backing off",
     WARNING),
    ("finish exited 125", lambda: ours(0, STATE_DOWN, FAILED | EXITED, want=WANT_DOWN),
     "failed", CRITICAL),
    ("no supervisor", lambda: View().failed(view.NOT_RUNNING, "supervise not running"),
     "not supervised", CRITICAL),
    ("unreadable", lambda: View().failed(view.UNREADABLE, "unable to chdir: access denied"),
     "not supervised", CRITICAL),
]


@pytest.mark.parametrize(("what", "build", "category", "level"), CASES,
                         ids=[case[0] for case in CASES])
def test_judge(what: str, build: object, category: str, level: int) -> None:
    assert callable(build)
    assert judge(build()) == (category, level)


def test_all_well_is_ok_and_counts_every_category() -> None:
    views = [("a", ours(42, STATE_RUN, 0)), ("b", make(record(0, want=WANT_DOWN),
                                                       normally_up=False))]
    assert summary(views) == (
        "OK: 1 up, 1 down, 0 failed permanently, 0 backing off, 0 not supervised"
        " | up=1 down=1 failed=0 backingoff=0 unsupervised=0", OK)


def test_worst_level_wins_and_problems_are_named() -> None:
    views = [("a", ours(42, STATE_RUN, 0)), ("b", ours(0, STATE_DOWN, EXITED)),
             ("c", View().failed(view.NOT_RUNNING, "supervise not running")),
             ("d", ours(0, STATE_DOWN, FAILED | EXITED, want=WANT_DOWN))]
    assert summary(views) == (
        "CRITICAL: 1 up, 0 down, 1 failed permanently, 1 backing off, 1 not supervised"
        "; critical: c d; warning: b | up=1 down=0 failed=1 backingoff=1 unsupervised=1",
        CRITICAL)
    assert summary(views[:2])[1] == WARNING


def test_check_is_a_mode_of_its_own() -> None:
    assert svstat.parse(["--check", "a", "b"]) == ("check", [], ["a", "b"])
    assert svstat.parse(["--", "--check"]) == ("classic", [], ["--check"])
    assert check.LEVEL_WORDS == {0: "OK", 1: "WARNING", 2: "CRITICAL"}

"""supervise.healing: what a daemon does after a fault, cell by cell (pure, no clock)."""

from __future__ import annotations

import pytest

from supervise import healing
from supervise.healing import Decision, History, Verdict

T = 1000.0  # a monotonic time


@pytest.mark.parametrize(
    ("history", "now", "expected"),
    [
        # the first fault: re-execute now
        (History(), T, Decision(Verdict.REEXEC, History((T,)))),
        # the fourth within a minute: still re-execute
        (History((T - 30, T - 20, T - 10)), T,
         Decision(Verdict.REEXEC, History((T - 30, T - 20, T - 10, T)))),
        # the fifth within a minute: give up for a minute, the count starts afresh
        (History((T - 40, T - 30, T - 20, T - 10)), T,
         Decision(Verdict.GIVE_UP, History((), 1, T), 60.0)),
        # four old ones, more than a minute ago, are forgotten
        (History((T - 70, T - 65, T - 61, T - 60)), T, Decision(Verdict.REEXEC, History((T,)))),
        # a second give-up in a row: twice the pause
        (History((T - 4, T - 3, T - 2, T - 1), 1, T - 120), T,
         Decision(Verdict.GIVE_UP, History((), 2, T), 120.0)),
        # a give-up an hour ago or more: the pauses start again from a minute
        (History((T - 4, T - 3, T - 2, T - 1), 3, T - 3600), T,
         Decision(Verdict.GIVE_UP, History((), 1, T), 60.0)),
        # a fault after a give-up within the hour keeps the give-ups counted
        (History((), 2, T - 100), T, Decision(Verdict.REEXEC, History((T,), 2, T - 100))),
        # ... and one an hour later forgets them
        (History((), 2, T - 3600), T, Decision(Verdict.REEXEC, History((T,), 0, T - 3600))),
        # a fault time after now (a clock that went back) counts as recent
        (History((T + 5, T + 6, T + 7, T + 8)), T,
         Decision(Verdict.GIVE_UP, History((), 1, T), 60.0)),
    ],
)
def test_after_fault(history: History, now: float, expected: Decision) -> None:
    assert healing.after_fault(history, now) == expected


@pytest.mark.parametrize(
    ("give_ups", "seconds"), [(0, 60), (1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600),
                              (1000, 3600)],
)
def test_pause(give_ups: int, seconds: float) -> None:
    assert healing.pause(give_ups) == seconds


@pytest.mark.parametrize(
    ("failures", "seconds"), [(0, 1), (1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (10**6, 60)],
)
def test_retry_delay(failures: int, seconds: float) -> None:
    assert healing.retry_delay(failures) == seconds


def test_five_faults_in_a_row_give_up_on_the_fifth() -> None:
    history = History()
    verdicts = []
    for n in range(6):
        decision = healing.after_fault(history, T + n)
        history = decision.history
        verdicts.append(decision.verdict)
    assert verdicts == [Verdict.REEXEC] * 4 + [Verdict.GIVE_UP, Verdict.REEXEC]


@pytest.mark.parametrize(
    "history",
    [History(), History((T,)), History((T - 1.5, T), 2, T - 99.25), History((), 1, None)],
)
def test_history_crosses_the_environment(history: History) -> None:
    assert healing.decode(healing.encode(history)) == history


@pytest.mark.parametrize("text", [None, "", "x", "1", "1 - x", "a - 1.0", "1 x 2.0"])
def test_unreadable_history_is_empty(text: str | None) -> None:
    assert healing.decode(text) == History()


def test_decoded_history_keeps_at_most_the_faults_that_count() -> None:
    text = "0 - " + " ".join(str(T + n) for n in range(50))
    assert len(healing.decode(text).faults) == healing.MAX_FAULTS

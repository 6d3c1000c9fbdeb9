"""What a daemon does after a fault escaped its task tree: re-execute, or stop trying a while.

Pure: no trio, no I/O, no clock. Times are ``time.monotonic()`` seconds (the
system's monotonic clock, the same on both sides of an ``execve``), given by
the caller. The daemon (`supervise.svscan`, `supervise.keeper`) only carries
out what these functions answer:

- every fault is counted; the `MAX_FAULTS`-th within `WINDOW` seconds stops
  the re-exec loop (`Verdict.GIVE_UP`): the daemon keeps what runs and tries
  again after a pause that doubles at each give-up in a row (`pause`), or at
  once on SIGHUP; a give-up more than `QUIET` seconds after the last one
  starts the doubling afresh;
- any other fault re-executes at once (`Verdict.REEXEC`);
- an exec that fails is tried again, backing off (`retry_delay`).

The history crosses the exec in an environment variable
(`supervise.reexec.FAULTS_ENV`; `encode`, `decode`), so the count holds
across re-executions; the new image takes the variable out before it starts
anything, and no service inherits it.
"""

from __future__ import annotations

import enum

import attrs

#: Faults within `WINDOW` seconds that stop the re-exec loop.
MAX_FAULTS = 5
WINDOW = 60.0
#: The first pause after giving up, doubled at each give-up in a row, up to `PAUSE_MAX`.
PAUSE_FIRST = 60.0
PAUSE_MAX = 3600.0
#: Seconds without a give-up after which the pauses start again from `PAUSE_FIRST`.
QUIET = 3600.0
#: A failed exec is retried after 1, 2, 4 ... seconds, up to `RETRY_MAX`.
RETRY_MAX = 60.0


class Verdict(enum.Enum):
    REEXEC = "re-execute now"
    GIVE_UP = "stop re-executing for a while; keep what runs"


@attrs.frozen
class History:
    """The recent faults (their times, oldest first), the give-ups in a row and the last one."""

    faults: tuple[float, ...] = ()
    give_ups: int = 0
    last_give_up: float | None = None


@attrs.frozen
class Decision:
    """What to do about a fault: `verdict`, with the `history` it leaves, and how many
    seconds to wait before re-executing (`wait`: 0 for `Verdict.REEXEC`)."""

    verdict: Verdict
    history: History
    wait: float = 0.0


def recent(faults: tuple[float, ...], now: float) -> tuple[float, ...]:
    """The faults within `WINDOW` seconds before `now` (a time after `now`, from a clock
    that went back, is kept: it is recent)."""
    return tuple(when for when in faults if now - when < WINDOW)


def pause(give_ups: int) -> float:
    """Seconds to wait after the `give_ups`-th give-up in a row: 60, 120, 240 ... 3600."""
    return float(min(PAUSE_FIRST * 2.0 ** min(max(give_ups - 1, 0), 32), PAUSE_MAX))


def after_fault(history: History, now: float) -> Decision:
    """A fault happened at `now`: re-execute, or give up for `pause` seconds."""
    faults = recent((*history.faults, now), now)
    give_ups = history.give_ups
    if history.last_give_up is not None and now - history.last_give_up >= QUIET:
        give_ups = 0
    if len(faults) < MAX_FAULTS:
        return Decision(Verdict.REEXEC, History(faults, give_ups, history.last_give_up))
    give_ups += 1
    return Decision(Verdict.GIVE_UP, History((), give_ups, now), pause(give_ups))


def retry_delay(failures: int) -> float:
    """Seconds before trying the exec again after `failures` failed in a row: 1, 2, 4 ... 60."""
    return float(min(2.0 ** min(max(failures - 1, 0), 32), RETRY_MAX))


def encode(history: History) -> str:
    """The history as a variable's value: ``GIVE_UPS LAST_GIVE_UP FAULT...`` (``-``: none)."""
    last = "-" if history.last_give_up is None else repr(history.last_give_up)
    return " ".join([str(history.give_ups), last, *(repr(when) for when in history.faults)])


def decode(text: str | None) -> History:
    """The history `encode` wrote; empty for None or anything unreadable."""
    words = (text or "").split()
    try:
        give_ups = int(words[0])
        last = None if words[1] == "-" else float(words[1])
        faults = tuple(float(word) for word in words[2:])
    except (IndexError, ValueError):
        return History()
    return History(faults[-MAX_FAULTS:], max(give_ups, 0), last)

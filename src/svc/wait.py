"""Waiting until each directory's service is up, ready, down, finished or restarted.

The library of ``svc -w`` (`wait`) and of ``qm-stop``/``qm-start`` (`until`,
`reached`, `state`); it imports no program module.

The state is read from the status files (our own, runit's 20 bytes, or
daemontools' 18), so the wait works against any of these supervisors. Between
reads we sleep until a status file is replaced or the supervisor lets go of
``supervise/ok`` (`svc.watch`), never in a tight loop.
"""

from __future__ import annotations

import time

from cmdline.cwd import Origin
from cmdline.out import warn
from svc import view, watch, words
from svc.view import View

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

#: -w letter -> what it waits for, as the messages say it
GOALS = {
    "u": "up",
    "U": "up and ready",
    "d": "down",
    "D": "down with finish done",
    "E": "down with its process tree empty",
    "r": "restarted",
    "R": "restarted and ready",
}

#: Exit codes of a wait (0: every directory got there).
TIMED_OUT = 99  # s6-svlisten1's code for a deadline
CANNOT = 1  # no supervisor, or the service failed permanently


def reached(goal: str, v: View, before: View | None) -> bool:
    """Whether `v` is what `goal` waits for; `before` is the directory before the command."""
    if v.error and not (goal in "dDE" and v.fault == view.NOT_RUNNING and v.status):
        return False  # a supervisor that wrote its last status and exited still counts for down
    if goal == "u":
        return v.up
    if goal == "U":
        return v.ready
    if goal == "d":
        return not v.up
    if goal == "D":
        return v.pid == 0 and not v.finishing
    if goal == "E":
        return v.pid == 0 and not v.finishing and not v.members()
    started_again = before is None or before.error or v.identity() != before.identity()
    return bool(started_again) and (v.up if goal == "r" else v.ready)


def hopeless(goal: str, v: View, before: View | None, sent: bytes) -> str | None:
    """Why the directory can never get there, or None while it still might."""
    if v.error:
        return v.error
    if goal in "uUrR" and v.failed_permanently:
        # `u` or `o` clears a permanent failure: until the supervisor has
        # rewritten the record since we sent it, the flag may be stale.
        stale = before is not None and v.record == before.record and (b"u" in sent or b"o" in sent)
        if not stale:
            return "failed permanently"
    return None


def snapshot(directories: list[str], origin: Origin) -> dict[str, View]:
    """Each directory as it is before the command is sent."""
    views = {}
    for directory in directories:
        views[directory] = view.read(directory)
        origin.back()
    return views


def until(
    directories: list[str],
    done: Callable[[str, View], bool],
    deadline: float | None,
    origin: Origin,
    idle: Callable[[list[str]], None] | None = None,
    every: float = watch.SAFETY_CHECK,
    trees: bool = False,
) -> list[str]:
    """Read each directory until `done(directory, view)` holds for all, or `deadline` passes.

    The one waiting loop of svc -w and qm-stop/qm-start: between rounds it
    sleeps on the watcher (never a tight loop), and calls `idle(pending)` about
    every `every` seconds. Returns the directories still pending at the
    deadline (empty when all were done). `trees`: the goal is also an empty process
    tree, which changes no status file: the watcher also wakes when a cgroup empties,
    and a tree followed by its session is counted again every `watch.TREE_POLL` s.
    """
    pending = list(directories)
    last_idle = time.monotonic()
    with watch.Watcher(pending, trees) as watcher:
        while True:
            pending = [d for d in pending if not done(d, _read(d, origin))]
            now = time.monotonic()
            if not pending or (deadline is not None and now >= deadline):
                return pending
            if idle is not None and now - last_idle >= every:
                last_idle = now
                idle(pending)
            limit = every if deadline is None else min(every, deadline - now)
            watcher.sleep(limit)


def state(directory: str, origin: Origin) -> str:
    """The directory's state as svstat words it (``down 3 seconds, normally up``)."""
    return words.line(_read(directory, origin), time.time())


def _read(directory: str, origin: Origin) -> View:
    v = view.read(directory)
    origin.back()
    return v


def wait(
    directories: list[str],
    goal: str,
    deadline: float | None,
    sent: bytes,
    before: dict[str, View],
    origin: Origin,
) -> int:
    """Wait until all `directories` reach `goal` (a `GOALS` letter), at most until `deadline`
    (monotonic), after `sent` was written to them; 0, `CANNOT` or `TIMED_OUT`."""
    cannot = []

    def done(directory: str, v: View) -> bool:
        previous = before.get(directory)
        if reached(goal, v, previous):
            return True
        why = hopeless(goal, v, previous, sent)
        if why is not None:
            warn(f"{directory} will not be {GOALS[goal]}: {why}")
            cannot.append(directory)
        return why is not None

    left = until(directories, done, deadline, origin, trees=goal == "E")
    for directory in left:
        warn(f"timed out waiting for {directory} to be {GOALS[goal]}: "
             f"{state(directory, origin)}")
    return TIMED_OUT if left else (CANNOT if cannot else 0)

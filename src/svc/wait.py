"""svc -w: wait until each directory's service is up, ready, down, finished or restarted.

The state is read from the status files (our own, runit's 20 bytes, or
daemontools' 18), so the wait works against any of these supervisors. Between
reads we sleep until a status file is replaced or the supervisor lets go of
``supervise/ok`` (`svc.watch`), never in a tight loop.
"""

from __future__ import annotations

import time

from svc import view, watch
from svc.cwd import Origin
from svc.out import warn
from svc.view import View

TYPE_CHECKING = False
if TYPE_CHECKING:
    from svc.svc import Options

PROG = "svc"

#: -w letter -> what it waits for, as the messages say it
GOALS = {
    "u": "up",
    "U": "up and ready",
    "d": "down",
    "D": "down with finish done",
    "r": "restarted",
    "R": "restarted and ready",
}

TIMED_OUT = 99  # s6-svlisten1's code for a deadline
CANNOT = 1  # no supervisor, or the service failed permanently


def reached(goal: str, v: View, before: View | None) -> bool:
    """Whether `v` is what `goal` waits for; `before` is the directory before the command."""
    if v.error and not (goal in "dD" and v.fault == view.NOT_RUNNING and v.fields):
        return False  # a supervisor that wrote its last status and exited still counts for down
    if goal == "u":
        return v.up
    if goal == "U":
        return v.ready
    if goal == "d":
        return not v.up
    if goal == "D":
        return v.pid == 0 and not v.finishing
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


def wait(directories: list[str], options: Options, before: dict[str, View], origin: Origin) -> int:
    """Wait for all `directories`; 0, `CANNOT` or `TIMED_OUT` (see svc's docstring)."""
    goal = options.wait
    deadline = time.monotonic() + options.deadline_ms / 1000 if options.deadline_ms else None
    pending = list(directories)
    code = 0
    with watch.Watcher(pending) as watcher:
        while True:
            for directory in list(pending):
                v = view.read(directory)
                origin.back()
                previous = before.get(directory)
                if reached(goal, v, previous):
                    pending.remove(directory)
                    continue
                why = hopeless(goal, v, previous, options.data)
                if why is not None:
                    warn(PROG, f"{directory} will not be {GOALS[goal]}: {why}")
                    pending.remove(directory)
                    code = code or CANNOT
            if not pending:
                return code
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return _timed_out(pending, goal, origin)
            watcher.sleep(left)


def _timed_out(pending: list[str], goal: str, origin: Origin) -> int:
    from svc.svstat import classic, extras

    for directory in pending:
        v = view.read(directory)
        origin.back()
        now = time.time()
        warn(PROG, f"timed out waiting for {directory} to be {GOALS[goal]}: "
                   f"{classic(v, now)}{extras(v, now)}")
    return TIMED_OUT

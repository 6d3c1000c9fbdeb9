"""The daemon's own process settings: descriptor limit, child subreaper, quick exit.

Each is a system call or two; they live here so that svscan's startup reads as
a list of decisions, and so that the one ctypes call for prctl is in one place.
"""

from __future__ import annotations

import os
import resource
import signal
import sys

TYPE_CHECKING = False  # typing costs the daemon's first pass its import time
if TYPE_CHECKING:
    from typing import NoReturn

PR_SET_CHILD_SUBREAPER = 36
#: Blocked while the daemon cannot answer them (across a SIGHUP's exec, during the first
#: pass); the daemon unblocks them once its receivers are in place, so none is lost or fatal.
HELD_SIGNALS = frozenset(
    {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGPWR, signal.SIGUSR1,
     signal.SIGALRM, signal.SIGCHLD}
)
_NR_OPEN = "/proc/sys/fs/nr_open"
#: Descriptors per entry we budget for (3 per service, 2 per log pipe) plus the daemon's own
#: (trio's, the reaper's, a client's): the first pass leaves the daemon that much.
FDS_PER_ENTRY = 8
FDS_BASE = 64


def descriptors_needed(entries: int) -> int:
    """The descriptors a daemon supervising `entries` entries budgets for."""
    return FDS_BASE + FDS_PER_ENTRY * entries


def raise_descriptor_limit(needed: int = 0) -> int:
    """Raise RLIMIT_NOFILE: the soft limit to the hard one, and past it when `needed` and allowed.

    The hard limit is raised (up to the kernel's ``nr_open``) only when
    `needed` descriptors would not fit, so that services do not inherit a
    huge limit they never asked for. Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if needed > hard:
        ceiling = min(max(needed * 2, hard), max(_nr_open(), hard))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, ceiling))
            return ceiling
        except (ValueError, OSError):
            pass  # not privileged (no CAP_SYS_RESOURCE): the hard limit is as far as we go
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def become_subreaper() -> None:
    """Make orphans of our descendants our children (Linux prctl); OSError if refused."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def _nr_open() -> int:
    try:
        with open(_NR_OPEN) as limit:
            return int(limit.read())
    except (OSError, ValueError):
        return 0


def exit_now(code: int) -> NoReturn:
    """Exit the daemon with `code` at once, once its output is flushed.

    Everything that matters is done by then: every service is down, its
    status written, every fd about to be closed by the kernel. What is left
    is the interpreter freeing each object one by one, which at 1000
    services took a quarter of the whole stop.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)

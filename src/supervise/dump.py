"""The daemon's answer to SIGUSR1 (svscan's and supervise's): its whole state, as lines.

One line per supervised directory (state, pid, uptime, restarts, readiness),
the number of children, and every open descriptor with what it is for: the
ones svscan knows by name, the rest by what ``/proc/self/fd`` says they
point to (trio's wakeup socket and epoll, inherited stdio).
"""

from __future__ import annotations

import os

from supervise import machine, tree
from supervise.errtext import describe
from supervise.record import LINE_WORDS, WANT_WORDS


def service_line(path: str, state: machine.State, starts: int, now: float) -> str:
    """``PATH: up (pid 12) 30 seconds, 2 restarts, ready 29 seconds, want up``."""
    words = LINE_WORDS[state.phase.value]
    if state.pid:
        words += f" (pid {state.pid})"
    words += f" {max(0, int(now - state.stamp))} seconds"
    words += f", {max(0, starts - 1)} restarts"
    if state.ready and state.ready_stamp is not None:
        words += f", ready {max(0, int(now - state.ready_stamp))} seconds"
    words += f", want {WANT_WORDS[state.want]}"
    for flag, text in ((state.paused, "paused"), (state.failed, "failed permanently"),
                       (state.exiting, "exiting")):
        if flag:
            words += f", {text}"
    return f"{path}: {words}"


def tree_lines(path: str, followed: str) -> list[str]:
    """``PATH: tree (cgroup X): 3 processes: 12 13 14``; nothing for a tree not followed."""
    where = tree.parse(followed.encode())
    if where is None:
        return []
    members = tree.members(*where) or []
    line = f"{path}: tree ({where[0]} {where[1]}): {len(members)} processes"
    memory, cpu = tree.usage(*where)
    if memory is not None:
        line += f", memory {memory} bytes"
    if cpu is not None:
        line += f", cpu {cpu / 1e6:.3f} seconds"
    return [line + (": " + " ".join(map(str, members)) if members else "")]


def descriptor_lines(known: dict[int, str]) -> list[str]:
    """``fd N: WHAT`` for every open descriptor, named from `known` or from /proc."""
    result = []
    try:
        numbers = sorted(int(entry) for entry in os.listdir("/proc/self/fd"))
    except OSError as error:
        return [f"descriptors: unable to list /proc/self/fd: {describe(error)}"]
    for fd in numbers:
        what = known.get(fd)
        if what is None:
            try:
                what = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue  # the fd listdir itself used, closed by now
        result.append(f"fd {fd}: {what}")
    return result

"""Processes as /proc shows them, and children spawned, reaped and killed by pid.

What the tree benchmarks share: a scan of the processes under one pid cheap enough to poll,
their CPU time, context switches and memory, and the clean-up that kills, by pid and never by
name, whatever a run left under this process (a child subreaper, so every orphan is its child).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import defaultdict
from dataclasses import dataclass

SERVICE_COMM = "sleep"
CLEANUP_TIMEOUT_S = 10.0
# What a spawned supervisor or client starts with, whatever this process inherited: every
# signal at its default action (``nohup`` ignores HUP, a shell's ``&`` INT and QUIT, Python
# PIPE and XFSZ, and an ignored signal stays ignored across fork and exec, down to the
# services of a supervisor that does not reset it) and none blocked.
DEFAULT_SIGNALS = frozenset(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP}


# --- processes, as /proc shows them ------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    """What /proc/PID/stat says of one process."""

    pid: int
    comm: str
    state: str
    ppid: int
    ticks: int  # utime + stime, the process' own (all threads), not its children's
    start: int  # start time since boot in ticks: with the pid, names one process for good

    @property
    def alive(self) -> bool:
        return self.state not in "ZX"


def read_stat(pid: int) -> Stat | None:
    """/proc/PID/stat parsed; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    opening, closing = data.index(b"("), data.rindex(b")")
    rest = data[closing + 2 :].split()
    comm = data[opening + 1 : closing].decode(errors="replace")
    return Stat(pid, comm, rest[0].decode(), int(rest[1]), int(rest[11]) + int(rest[12]),
                int(rest[19]))


def still_there(proc: Stat) -> bool:
    """Whether the process `proc` was is still running (not a zombie, not a reused pid)."""
    now = read_stat(proc.pid)
    return now is not None and now.start == proc.start and now.alive


class Descendants:
    """The processes under one pid, from /proc, rescanned cheaply enough to poll.

    A pid's parent is read once (during a start-up nobody in the tree is reparented);
    only descendants whose comm may still change are read again at each scan: all but a
    service's ``sleep`` and the scanner's own children once they run `supervisor` (a
    supervisor's child has its comm too, between fork and exec).
    """

    def __init__(self, root: int, supervisor: str | None = None) -> None:
        self.root = root
        self.supervisor = supervisor
        self.cache: dict[int, Stat] = {}

    def final(self, stat: Stat) -> bool:
        """Whether `stat` will not exec again."""
        if stat.comm == SERVICE_COMM:
            return True
        return stat.comm == self.supervisor and stat.ppid == self.root

    def scan(self) -> list[Stat]:
        pids = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        for pid in self.cache.keys() - pids:
            del self.cache[pid]
        for pid in pids - self.cache.keys():
            stat = read_stat(pid)
            if stat is not None:
                self.cache[pid] = stat
        children: dict[int, list[int]] = defaultdict(list)
        for stat in self.cache.values():
            children[stat.ppid].append(stat.pid)
        found, todo = [], list(children[self.root])
        while todo:
            pid = todo.pop()
            stat = self.cache[pid]
            if not self.final(stat):
                fresh = read_stat(pid)
                if fresh is None:
                    continue
                self.cache[pid] = stat = fresh
            found.append(stat)
            todo += children[pid]
        return found


def smaps_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in KiB of one process, from /proc/PID/smaps_rollup; zeros if gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as smaps:
            for line in smaps:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def switches(pid: int) -> int:
    """Voluntary + involuntary context switches of every thread of `pid` (0 if gone)."""
    total = 0
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/status") as status:
                for line in status:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt")):
                        total += int(line.split()[1])
    return total


def cost(procs: list[Stat]) -> dict[tuple[int, int], tuple[int, int]]:
    """(CPU ticks, context switches) so far, per (pid, start) of `procs` still running."""
    result = {}
    for proc in procs:
        now = read_stat(proc.pid)
        if now is not None and now.start == proc.start:
            result[(proc.pid, proc.start)] = (now.ticks, switches(proc.pid))
    return result


# --- children: spawned, reaped, killed by pid -------------------------------------------


def reap(exited: dict[int, int]) -> None:
    """Collect every exited child now (scanners, orphans); their codes go into `exited`."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exited[pid] = os.waitstatus_to_exitcode(status)


def spawn(argv: list[str], output: int) -> int:
    """Start `argv` in a session of its own (so a terminal's ^C reaches us, not it)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, output, 1),
            (os.POSIX_SPAWN_DUP2, output, 2),
        ]
        return os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions, setsid=True,
                              setsigdef=DEFAULT_SIGNALS, setsigmask=())
    finally:
        os.close(devnull)


def run_quietly(argv: list[str]) -> None:
    """Run a control command to its end (its own exit code is not ours to judge)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions,
                             setsigdef=DEFAULT_SIGNALS, setsigmask=())
        os.waitpid(pid, 0)
    finally:
        os.close(devnull)


def kill_descendants() -> list[Stat]:
    """SIGKILL, by pid, every process still under this one; wait until they are gone.

    The scanner first, then its supervisors, then the services, so that nothing is
    restarted meanwhile. Returns what was killed (not counting zombies).
    """
    left = [stat for stat in Descendants(os.getpid()).scan() if stat.alive]
    left.sort(key=lambda stat: (stat.comm == SERVICE_COMM, stat.ppid != os.getpid()))
    for stat in left:
        if still_there(stat):
            with contextlib.suppress(ProcessLookupError):
                os.kill(stat.pid, signal.SIGKILL)
    deadline = time.monotonic() + CLEANUP_TIMEOUT_S
    exited: dict[int, int] = {}
    while any(map(still_there, left)) and time.monotonic() < deadline:
        reap(exited)
        time.sleep(0.01)
    reap(exited)
    return left

"""Our svscan against daemontools' svscan, runit's runsvdir and s6-svscan, on identical trees.

Why: the issue asks one daemon for a whole tree to start 1000 services in under 1 s
(daemontools about 2 s, s6 about 4.7 s), to hold them in under 30 MiB (daemontools'
svscan and its 1000 ``supervise`` processes: about 91 MiB), to stop them all and exit in
under 700 ms, and to run 10,000 services at all. Each run builds a fresh tree of N
directories whose ``run`` is ``#!/bin/sh`` + ``exec sleep 100000``, starts one scanner on
it, and measures:

- startup: from just before the scanner is spawned until all N services have exec'd
  ``sleep``. Seen from /proc (the scanner's descendants whose comm is ``sleep``), which
  every supervisor is alike to; polled every `START_POLL_S` or twice as long as a scan
  of /proc takes, whichever is longer, so that is the resolution;
- idle cost: after `SETTLE_S` more, over `IDLE_S` seconds with everything up, CPU time
  (utime+stime of /proc/PID/stat, in clock ticks) and context switches (voluntary and
  involuntary, of every thread) of the supervisor processes: the scanner and its
  children that are not services (daemontools' ``supervise``, runit's ``runsv``, s6's
  ``s6-supervise``; ours has none);
- memory: right after the idle window, PSS and RSS of the same processes summed from
  /proc/PID/smaps_rollup. PSS shares the pages of one binary among its N copies, so it is
  the fair total; RSS counts them N times;
- stop-all: from the stop request until every service, every supervisor process and the
  scanner are gone (exited: a zombie counts as gone). Each is stopped the way its manual
  says to stop a whole tree: ours on SIGTERM; daemontools' svscan has no such command,
  so ``svc -dx`` on every service and then SIGTERM to svscan (timed together); runit's
  runsvdir on SIGHUP (TERM to every runsv, which stop their services); s6 by
  ``s6-svscanctl -t DIR`` (Debian's 2.11 does the same on SIGTERM).

Scanners run A B C D A B C D ... for `--rounds` rounds at each size in `--sizes`, so
machine noise hits them alike; then ours alone at `--big` services, once (daemontools'
svscan stops at 1000 services; s6-svscan is given ``-c N``). This process makes itself a
child subreaper, so every orphan of a run is its child; after each run it SIGKILLs, by
pid, whatever of its descendants is left, and removes the tree. A measurement, not a
test: it exits 0 even when a target is missed, and says MISSED.

    python -m benchmarks.svscan [--rounds 3] [--sizes 100,1000] [--big 10000] [--idle 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import timing
from benchmarks.clients import BIN, DEBIAN, ROOT, RUN, exit_on_sigterm
from benchmarks.timing import Summary
from supervise.process import become_subreaper

OUTPUT = ROOT / "benchmarks" / "results" / "svscan.md"

SIZES = (100, 1000)
BIG = 10_000
SETTLE_S = 1.0
IDLE_S = 10.0
START_POLL_S = 0.01
STOP_POLL_S = 0.002
START_TIMEOUT_S = 60.0  # per 1000 services, at least this
STALL_S = 20.0  # start-up has failed when no service came up for this long
STOP_TIMEOUT_S = 60.0
CLEANUP_TIMEOUT_S = 10.0

# The targets, at TARGET_N services.
TARGET_N = 1000
START_LIMIT_MS = 1000.0
MEMORY_LIMIT_MIB = 30.0
STOP_LIMIT_MS = 700.0

SERVICE_COMM = "sleep"
CAP_SYS_RESOURCE = 24
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
KIB_PER_MIB = 1024

Stopper = Callable[[int, list[Path], Path], None]


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
        return os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions, setsid=True)
    finally:
        os.close(devnull)


def run_quietly(argv: list[str]) -> None:
    """Run a control command to its end (its own exit code is not ours to judge)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions)
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


# --- the scanners ------------------------------------------------------------------------


def signal_to(sig: signal.Signals) -> Stopper:
    def stop(pid: int, services: list[Path], tree: Path) -> None:
        os.kill(pid, sig)

    return stop


def svc_dx_then_term(pid: int, services: list[Path], tree: Path) -> None:
    run_quietly([str(DEBIAN / "svc"), "-dx", *map(str, services)])
    os.kill(pid, signal.SIGTERM)


def s6_svscanctl_t(pid: int, services: list[Path], tree: Path) -> None:
    run_quietly([str(DEBIAN / "s6-svscanctl"), "-t", str(tree)])


@dataclass(frozen=True)
class Scanner:
    """One tree supervisor: how to start it on a tree of n, and how to stop it all."""

    key: str
    label: str
    argv: Callable[[Path, int], list[str]]
    stop: Stopper
    stop_text: str
    supervisor: str | None  # the comm of its per-service process, if it has one
    most: int | None = None  # the most services it can run

    @property
    def installed(self) -> bool:
        return os.access(self.argv(Path("."), 1)[0], os.X_OK)


OURS = Scanner(
    "ours",
    "ours",
    lambda tree, n: [str(BIN / "python"), "-m", "supervise.svscan_cli", str(tree)],
    signal_to(signal.SIGTERM),
    "SIGTERM",
    None,
)
DAEMONTOOLS = Scanner(
    "daemontools",
    "daemontools",
    lambda tree, n: [str(DEBIAN / "svscan"), str(tree)],
    svc_dx_then_term,
    "`svc -dx DIR/*`, then SIGTERM to svscan",
    "supervise",
    1000,
)
RUNIT = Scanner(
    "runit",
    "runit",
    lambda tree, n: [str(DEBIAN / "runsvdir"), str(tree)],
    signal_to(signal.SIGHUP),
    "SIGHUP to runsvdir",
    "runsv",
)
S6 = Scanner(
    "s6",
    "s6",
    lambda tree, n: [str(DEBIAN / "s6-svscan"), "-c", str(max(n, 4)), str(tree)],
    s6_svscanctl_t,
    "`s6-svscanctl -t DIR`",
    "s6-supervise",
)
SCANNERS = (OURS, DAEMONTOOLS, RUNIT, S6)
BASELINE = DAEMONTOOLS


# --- one run -----------------------------------------------------------------------------


@dataclass
class Sample:
    """What one run of one scanner on one tree measured; None where it could not."""

    start_ms: float | None = None
    cpu_ms: float | None = None
    switches: float | None = None
    pss_kib: float | None = None
    rss_kib: float | None = None
    processes: int | None = None
    up: int = 0  # services that came up: the per-service figures divide by this
    stop_ms: float | None = None
    pss_per_service: float | None = None
    rss_per_service: float | None = None
    problems: list[str] = field(default_factory=list)


def build_tree(root: Path, count: int) -> list[Path]:
    """`count` service directories under `root`, each one ``exec sleep 100000``."""
    root.mkdir()
    services = []
    for number in range(count):
        service = root / f"s{number:05d}"
        service.mkdir()
        run = service / "run"
        run.write_text(RUN)
        run.chmod(0o755)
        services.append(service)
    return services


class StartFailed(Exception):
    """Not all services came up: `up` did, and the scanner `died` or not."""

    def __init__(self, text: str, up: int, died: bool) -> None:
        super().__init__(text)
        self.up = up
        self.died = died


def wait_all_up(
    scanner_pid: int, n: int, descendants: Descendants, exited: dict[int, int], began: int
) -> float:
    """Milliseconds from `began` until `n` services run ``sleep``; StartFailed if never.

    Never means: the scanner exited, or no service came up for `STALL_S`, or the whole
    `START_TIMEOUT_S` (per 1000 services) is over. A scan of /proc is followed by a pause of
    twice its own length (at least `START_POLL_S`), so polling takes at most a third of one
    CPU from the scanner even at 10,000 processes.
    """
    deadline = time.monotonic() + START_TIMEOUT_S * max(1.0, n / 1000)
    up, last_up, last_change = 0, -1, time.monotonic()
    while True:
        now = time.perf_counter_ns()
        up = sum(stat.comm == SERVICE_COMM and stat.alive for stat in descendants.scan())
        if up >= n:
            return (now - began) / 1e6
        took = (time.perf_counter_ns() - now) / 1e9
        reap(exited)
        waited = (time.perf_counter_ns() - began) / 1e9
        if scanner_pid in exited:
            raise StartFailed(f"exited {exited[scanner_pid]} after {waited:.1f} s with {up} of "
                              f"{n} services up", up, died=True)
        if up != last_up:
            last_up, last_change = up, time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            raise StartFailed(f"{up} of {n} services up after {waited:.0f} s; none more in the "
                              f"last {STALL_S:.0f} s", up, died=False)
        if time.monotonic() > deadline:
            raise StartFailed(f"{up} of {n} services up after {waited:.0f} s", up, died=False)
        time.sleep(max(START_POLL_S, 2 * took))


def stop_all(scanner: Scanner, pid: int, procs: list[Stat], services: list[Path],
             tree: Path, exited: dict[int, int]) -> float:
    """Milliseconds from the stop request until every one of `procs` is gone."""
    remaining = list(procs)
    began = time.perf_counter_ns()
    scanner.stop(pid, services, tree)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while True:
        while remaining and not still_there(remaining[-1]):
            remaining.pop()
        if not remaining:
            return (time.perf_counter_ns() - began) / 1e6
        if time.monotonic() > deadline:
            names = sorted({stat.comm for stat in remaining if still_there(stat)})
            raise RuntimeError(f"{len(remaining)} processes ({', '.join(names)}) "
                               f"still there {STOP_TIMEOUT_S:.0f} s after the stop")
        reap(exited)
        time.sleep(STOP_POLL_S)


def one_run(scanner: Scanner, n: int, scratch: Path, idle_s: float) -> Sample:
    """Start `scanner` on a fresh tree of `n`, measure, stop it, and leave nothing behind."""
    sample = Sample()
    stop_offset: int | None = None
    tree = scratch / f"{scanner.key}-{n}"
    log = scratch / f"{scanner.key}-{n}.log"
    services = build_tree(tree, n)
    exited: dict[int, int] = {}
    with open(log, "wb") as output:
        began = time.perf_counter_ns()
        pid = spawn(scanner.argv(tree, n), output.fileno())
    try:
        descendants = Descendants(pid, scanner.supervisor)
        try:
            sample.start_ms = wait_all_up(pid, n, descendants, exited, began)
            sample.up = n
        except StartFailed as error:
            sample.problems.append(f"start-up: {error}")
            sample.up = error.up
            if error.died or not error.up:
                return sample
            sample.problems.append(f"measured on the {error.up} services up")
        time.sleep(SETTLE_S)
        root = read_stat(pid)
        below = [stat for stat in descendants.scan() if stat.alive]
        if root is None or not root.alive:
            sample.problems.append("the scanner died after start-up")
            return sample
        supervisors = [root, *(stat for stat in below if stat.comm != SERVICE_COMM)]
        before = cost(supervisors)
        time.sleep(idle_s)
        after = cost(supervisors)
        both = before.keys() & after.keys()
        sample.cpu_ms = sum(after[k][0] - before[k][0] for k in both) * TICK_MS
        sample.switches = sum(after[k][1] - before[k][1] for k in both)
        if len(both) < len(supervisors):
            sample.problems.append(f"{len(supervisors) - len(both)} supervisor processes "
                                   "ended during the idle window")
        memory = [smaps_kib(stat.pid) for stat in supervisors]
        sample.pss_kib = sum(pss for pss, _ in memory)
        sample.rss_kib = sum(rss for _, rss in memory)
        sample.pss_per_service = sample.pss_kib / sample.up
        sample.rss_per_service = sample.rss_kib / sample.up
        sample.processes = len(supervisors)
        procs = [root, *(stat for stat in descendants.scan() if stat.alive)]
        stop_offset = log.stat().st_size
        try:
            sample.stop_ms = stop_all(scanner, pid, procs, services, tree, exited)
        except RuntimeError as error:
            sample.problems.append(f"stop-all: {error}")
        reap(exited)
        if pid in exited and exited[pid] != 0 and scanner is OURS:
            sample.problems.append(f"exited {exited[pid]} after the stop")
    finally:
        killed = kill_descendants()
        if killed:
            comms = sorted({stat.comm for stat in killed})
            sample.problems.append(f"{len(killed)} processes left, SIGKILLed: {', '.join(comms)}")
        data = log.read_bytes()
        if stop_offset is None:
            sample.problems += [f"stderr: {line}" for line in stderr_lines(data)]
        else:
            early, late = data[:stop_offset], data[stop_offset:]
            sample.problems += [f"stderr before the stop: {line}" for line in stderr_lines(early)]
            sample.problems += [f"stderr after the stop request: {line}"
                                for line in stderr_lines(late)]
        shutil.rmtree(tree, ignore_errors=True)
        log.unlink(missing_ok=True)
    return sample


def stderr_lines(data: bytes, most: int = 10) -> list[str]:
    """A scanner's output: each kind of line once (service names as sNNNNN) with a count.

    Kinds in order of first appearance, at most `most` of them; then the first line as is.
    """
    lines = data.decode(errors="replace").splitlines()
    kinds: dict[str, int] = {}
    for line in lines:
        kind = re.sub(r"\bs\d{5}\b", "sNNNNN", line)
        kinds[kind] = kinds.get(kind, 0) + 1
    told = [f"`{kind}` ({count} lines)" if count > 1 else f"`{kind}`"
            for kind, count in list(kinds.items())[:most]]
    if len(kinds) > most:
        told.append(f"... and {len(kinds) - most} more kinds of line")
    if lines and len(lines) > len(kinds):
        told.append(f"first line: `{lines[0]}`")
    return told


# --- the report --------------------------------------------------------------------------

Results = dict[tuple[str, int], list[Sample]]


def summary(samples: list[Sample], metric: str) -> Summary | None:
    values = [v for v in (getattr(s, metric) for s in samples) if v is not None]
    return Summary.of(values, len(samples) - len(values)) if values else None


def number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def spread(got: Summary, scale: float, digits: int) -> str:
    low, high = number(got.minimum / scale, digits), number(got.maximum / scale, digits)
    failed = f" ({got.failures} failed)" if got.failures else ""
    return f"{low}-{high}{failed}"


def ratio(got: Summary | None, base: Summary | None) -> str:
    if got is None or base is None or base.median == 0:
        return "n/a"
    return f"{got.median / base.median:.2f}x"


def size(n: int, samples: list[Sample]) -> str:
    """N, and how many services were up where some run did not bring all N up."""
    short = sorted({s.up for s in samples if s.up < n})
    return f"{n:,}" + (f" ({', '.join(f'{up:,}' for up in short)} up)" if short else "")


def metric_table(results: Results, columns: list[tuple[str, str, float, int]]) -> str:
    """A row per (N, scanner); per metric: median, min-max, and the ratio to daemontools'."""
    headers = ["N", "scanner"]
    for title, _, _, _ in columns:
        headers += [title, "min-max", "vs daemontools"]
    rows = []
    for (key, n), samples in results.items():
        row = [size(n, samples), key]
        for _, metric, scale, digits in columns:
            got = summary(samples, metric)
            base = summary(results.get((BASELINE.key, n), []), metric)
            if got is None:
                row += ["failed (see Problems)", "", ""]
            else:
                row += [number(got.median / scale, digits), spread(got, scale, digits),
                        "" if key == BASELINE.key else ratio(got, base)]
        rows.append(row)
    return timing.markdown_table(headers, rows)


def memory_table(results: Results) -> str:
    headers = ["N", "scanner", "processes", "PSS MiB", "min-max", "PSS KiB/service",
               "vs daemontools", "RSS MiB", "min-max", "RSS KiB/service", "vs daemontools"]
    rows = []
    for (key, n), samples in results.items():
        row = [size(n, samples), key, ", ".join(sorted({str(s.processes) for s in samples
                                                 if s.processes is not None})) or "?"]
        for metric in ("pss", "rss"):
            got = summary(samples, f"{metric}_kib")
            each = summary(samples, f"{metric}_per_service")
            base = summary(results.get((BASELINE.key, n), []), f"{metric}_kib")
            if got is None or each is None:
                row += ["failed (see Problems)", "", "", ""]
                continue
            row += [number(got.median / KIB_PER_MIB, 1), spread(got, KIB_PER_MIB, 1),
                    number(each.median, 1), "" if key == BASELINE.key else ratio(got, base)]
        rows.append(row)
    return timing.markdown_table(headers, rows)


def verdict(met: bool) -> str:
    return "**met**" if met else "**MISSED**"


def targets(results: Results, big: int) -> list[str]:
    """The issue's targets, each with the number that decides it and met or MISSED."""
    ours = results.get((OURS.key, TARGET_N))
    if not ours:
        return [f"- not measured: ours did not run at {TARGET_N} services"]
    lines = []
    start, stop = summary(ours, "start_ms"), summary(ours, "stop_ms")
    pss, rss = summary(ours, "pss_kib"), summary(ours, "rss_kib")
    others = []
    for scanner in (DAEMONTOOLS, S6):
        got = summary(results.get((scanner.key, TARGET_N), []), "start_ms")
        if got is not None:
            others.append(f"{scanner.key} {got.median / 1000:.2f} s here")
    if start is not None:
        lines.append(f"- {TARGET_N} services all up in under {START_LIMIT_MS / 1000:.0f} s "
                     f"(issue: daemontools ~2 s, s6 ~4.7 s; {', '.join(others) or 'n/a'}): "
                     f"median {start.median:.0f} ms: {verdict(start.median < START_LIMIT_MS)}")
    if pss is not None and rss is not None:
        base = summary(results.get((BASELINE.key, TARGET_N), []), "pss_kib")
        base_rss = summary(results.get((BASELINE.key, TARGET_N), []), "rss_kib")
        here = (f"daemontools {base.median / KIB_PER_MIB:.1f} MiB PSS, "
                f"{base_rss.median / KIB_PER_MIB:.1f} MiB RSS here"
                if base is not None and base_rss is not None else "n/a")
        lines.append(f"- supervisor memory under {MEMORY_LIMIT_MIB:.0f} MiB at {TARGET_N} "
                     f"(issue: daemontools ~91 MiB, which is its PSS total; {here}): PSS "
                     f"{pss.median / KIB_PER_MIB:.1f} MiB (RSS {rss.median / KIB_PER_MIB:.1f} "
                     f"MiB): {verdict(pss.median / KIB_PER_MIB < MEMORY_LIMIT_MIB)}")
    if stop is not None:
        lines.append(f"- stop {TARGET_N} and exit in under {STOP_LIMIT_MS:.0f} ms: median "
                     f"{stop.median:.0f} ms: {verdict(stop.median < STOP_LIMIT_MS)}")
    if big and (OURS.key, big) in results:
        samples = results[(OURS.key, big)]
        clean = bool(samples) and all(
            s.start_ms is not None and s.stop_ms is not None and not s.problems for s in samples
        )
        lines.append(f"- {big:,} services run (all up, all stopped, nothing on stderr, nothing "
                     f"left over): {verdict(clean)}")
    failed = [f"- {key} at {n:,}: start-up or stop-all failed in a run (see Problems)"
              for (key, n), samples in results.items()
              if any(s.start_ms is None or s.stop_ms is None for s in samples)]
    return lines + failed


def problems(results: Results) -> list[str]:
    lines = []
    for (key, n), samples in results.items():
        for number_, sample in enumerate(samples, 1):
            lines += [f"- {key}, N={n:,}, run {number_}: {text}" for text in sample.problems]
    return lines or ["- none: every run started all its services, stopped them all, left "
                     "nothing behind, and no scanner wrote anything"]


def report(args: argparse.Namespace, results: Results, compiled: str, about: dict[str, str],
           scanners: list[Scanner]) -> str:
    """The whole Markdown result file."""
    about["rounds"] = (f"{args.rounds} at N = {', '.join(f'{n:,}' for n in args.sizes)}, "
                       "scanners interleaved; " + (f"ours alone at {args.big:,}, 1 round"
                                                   if args.big else "no big tree"))
    commands = [f"- {s.key}: `{' '.join(s.argv(Path('DIR'), 1000))}` (N=1000), stopped by "
                f"{s.stop_text}" for s in scanners]
    timed = [("median ms", "start_ms", 1.0, 0)]
    idle = [("CPU ms", "cpu_ms", 1.0, 0), ("switches", "switches", 1.0, 0)]
    return "\n".join([
        "# svscan benchmarks",
        "",
        *(f"- {key}: {value}" for key, value in about.items()),
        f"- {compiled}",
        f"- each run: a fresh tree of N directories, `run` = `{RUN.splitlines()[0]}` + "
        f"`{RUN.splitlines()[1]}`; N `sleep`s up (a scan of /proc, then a pause of twice its "
        f"length, at least {START_POLL_S * 1000:.0f} ms), {SETTLE_S:.0f} s settling, "
        f"{args.idle:.0f} s idle window, memory, stop-all (polled every "
        f"{STOP_POLL_S * 1000:.0f} ms); then anything left is SIGKILLed by pid and the tree "
        "removed; a start-up has failed when no service came up for "
        f"{STALL_S:.0f} s, and is then measured on the services up",
        "- supervisor processes = the scanner and its children that are not services "
        "(`supervise`, `runsv`, `s6-supervise`; ours is one process); the `sleep`s are not "
        f"counted anywhere; CPU time in clock ticks ({TICK_MS:.0f} ms) per process",
        "- the machine is shared: other sessions' processes may run meanwhile (load average "
        "above), which is why the scanners are interleaved and min-max is given",
        *commands,
        "",
        "## Start-up: spawn until all N services have exec'd `sleep` (ms)",
        "",
        metric_table(results, timed),
        "",
        "## Stop-all: stop request until every service, supervisor and the scanner are gone "
        "(ms)",
        "",
        metric_table(results, [("median ms", "stop_ms", 1.0, 0)]),
        "",
        "## Memory of the supervisor processes, all up (after the idle window)",
        "",
        memory_table(results),
        "",
        f"## Idle cost over {args.idle:.0f} s, all up: CPU time and context switches of the "
        "supervisor processes",
        "",
        metric_table(results, idle),
        "",
        "## Targets",
        "",
        *targets(results, args.big),
        "",
        "## Problems",
        "",
        *problems(results),
        "",
    ])


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.svscan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size (default 3)")
    parser.add_argument("--sizes", type=lambda text: [int(n) for n in text.split(",")],
                        default=list(SIZES), help="tree sizes for everybody (default 100,1000)")
    parser.add_argument("--big", type=int, default=BIG,
                        help="tree size for ours alone, one round; 0 for none (default 10000)")
    parser.add_argument("--idle", type=float, default=IDLE_S, help="idle window in seconds")
    parser.add_argument("--scanners", type=lambda text: text.split(","),
                        default=[s.key for s in SCANNERS],
                        help="which of ours,daemontools,runit,s6 to run (default all)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="Markdown result file")
    return parser.parse_args(argv)


def may_raise_limits() -> bool:
    """Whether this process has CAP_SYS_RESOURCE (root without it cannot pass a hard limit)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1)
    return False


def check_room(biggest: int) -> list[str]:
    """What the system allows against what the biggest run needs (two processes a service)."""
    needed = 2 * biggest + 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = {
        "pid_max": int(Path("/proc/sys/kernel/pid_max").read_text()),
        "RLIMIT_NPROC": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    }
    for name, limit in limits.items():
        if limit != resource.RLIM_INFINITY and limit < needed:
            print(f"WARNING: {name} {limit} < {needed} processes the biggest run needs")
    told = [f"{name} {'unlimited' if value == resource.RLIM_INFINITY else value}"
            for name, value in limits.items()]
    capable = may_raise_limits()
    told.append(f"RLIMIT_NOFILE {soft} (hard {hard}), CAP_SYS_RESOURCE "
                f"{'yes' if capable else 'no: the hard limit cannot be raised, even by root'}")
    return told


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    exit_on_sigterm()
    compiled = timing.compile_bytecode(str(BIN / "python"), "src", cwd=str(ROOT))
    print(compiled, flush=True)
    about = timing.machine(str(BIN / "python"))
    about["load average at start"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    about["limits"] = ", ".join(check_room(max([*args.sizes, args.big])))
    began = time.monotonic()
    chosen = [s for s in SCANNERS if s.key in args.scanners]
    scanners = [s for s in chosen if s.installed]
    missing = [s.key for s in chosen if not s.installed]
    if missing:
        about["not installed"] = ", ".join(missing)
    become_subreaper()
    plan = [(s, n) for n in args.sizes for s in scanners if s.most is None or n <= s.most]
    results: Results = {(s.key, n): [] for s, n in plan}
    if args.big and OURS in scanners:
        results[(OURS.key, args.big)] = []
    with tempfile.TemporaryDirectory(prefix="bench-svscan-") as tmp:
        for number_ in range(args.rounds):
            for scanner, n in plan:
                print(f"round {number_ + 1}/{args.rounds}: {scanner.key}, N={n}", flush=True)
                sample = one_run(scanner, n, Path(tmp), args.idle)
                results[(scanner.key, n)].append(sample)
                print(f"  {sample}", flush=True)
        if (OURS.key, args.big) in results:
            print(f"ours alone, N={args.big}", flush=True)
            sample = one_run(OURS, args.big, Path(tmp), args.idle)
            results[(OURS.key, args.big)].append(sample)
            print(f"  {sample}", flush=True)
    about["whole run"] = f"{(time.monotonic() - began) / 60:.1f} min"
    about["load average at end"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    timing.publish(report(args, results, compiled, about, scanners), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

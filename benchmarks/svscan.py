"""Our svscan against daemontools, runit, s6 and supervisord, on identical trees.

Why: a person choosing a supervisor wants to see how this one compares with the four they
would otherwise pick, measured in the same run on the same machine (``make bench`` renders
it as docs/benchmarks.md, with `benchmarks.report`). The issue behind our svscan also set
targets: 1000 services started in under 1 s (daemontools about 2 s, s6 about 4.7 s), held
in under 30 MiB (daemontools' svscan and its 1000 ``supervise`` processes: about 91 MiB),
all stopped and exited in under 700 ms, and 10,000 services run at all.

Each run builds a fresh tree of N directories whose ``run`` is ``#!/bin/sh`` + ``exec sleep
100000`` (the first adds ``trap '' HUP``, so the clients' ``svc -h`` kills nothing), starts
one supervisor on it (`benchmarks.peers`: supervisord is given the same tree as N programs),
and measures:

- startup: from just before the scanner is spawned until all N services have exec'd
  ``sleep``. Seen from /proc (the scanner's descendants whose comm is ``sleep``), which
  every supervisor is alike to; polled every `START_POLL_S` or twice as long as a scan
  of /proc takes, whichever is longer, so that is the resolution;
- idle cost: after `SETTLE_S` more, over `IDLE_S` seconds with everything up, CPU time
  (utime+stime of /proc/PID/stat, in clock ticks) and context switches (voluntary and
  involuntary, of every thread) of the supervisor processes: the scanner and its
  children that are not services (daemontools' ``supervise``, runit's ``runsv``, s6's
  ``s6-supervise``; ours and supervisord have none);
- memory: right after the idle window, PSS and RSS of the same processes summed from
  /proc/PID/smaps_rollup. PSS shares the pages of one binary among its N copies, so it is
  the fair total; RSS counts them N times;
- client wall time, at every N; control latency, signal delivery and crash restart, at
  `PROBE_N` services only (`benchmarks.probes` says how);
- stop-all: from the stop request until every service, every supervisor process and the
  scanner are gone (exited: a zombie counts as gone). Each is stopped the way its manual
  says to stop a whole tree: ours and supervisord on SIGTERM; daemontools' svscan has no
  such command, so ``svc -dx`` on every service and then SIGTERM to svscan (timed
  together); runit's runsvdir on SIGHUP (TERM to every runsv, which stop their services);
  s6 by ``s6-svscanctl -t DIR`` (Debian's 2.11 does the same on SIGTERM).

Scanners run A B C D E A B C D E ... for `--rounds` rounds at each size in `--sizes`, so
machine noise hits them alike; then ours alone at `--big` services, once (daemontools'
svscan stops at 1000 services; s6-svscan is given ``-c N``). This process makes itself a
child subreaper, so every orphan of a run is its child; after each run it SIGKILLs, by
pid, whatever of its descendants is left, and removes the tree. The samples go to
benchmarks/results/svscan.json (which `benchmarks.report` renders), the tables to
benchmarks/results/svscan.md. A measurement, not a test: it exits 0 even when a target is
missed, and says MISSED. ``--quick`` checks the whole path in a few minutes (small trees,
few rounds: not results).

    python -m benchmarks.svscan [--quick] [--rounds 3] [--sizes 10,100,1000] [--big 10000]
                                [--idle 20] [--probe-size 100] [--repeats 3]
                                [--client-rounds 5] [--scanners ours,daemontools,...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import probes, timing
from benchmarks.clients import BIN, ROOT, RUN, RUN_IGNORING_HUP, exit_on_sigterm
from benchmarks.peers import (
    BASELINE,
    DAEMONTOOLS,
    OURS,
    S6,
    SCANNERS,
    Client,
    Scanner,
    versions,
)
from benchmarks.procs import (
    SERVICE_COMM,
    Descendants,
    Stat,
    cost,
    kill_descendants,
    read_stat,
    reap,
    smaps_kib,
    spawn,
    still_there,
)
from benchmarks.timing import Summary
from supervise.process import become_subreaper

OUTPUT = ROOT / "benchmarks" / "results" / "svscan.md"
DATA = ROOT / "benchmarks" / "results" / "svscan.json"

SIZES = (10, 100, 1000)
BIG = 10_000
PROBE_N = 100
REPEATS = 3  # control and signal rounds per client in each run at PROBE_N
CLIENT_ROUNDS = 5  # client wall-time rounds in each run
SETTLE_S = 1.0
IDLE_S = 20.0
START_POLL_S = 0.01
STOP_POLL_S = 0.002
START_TIMEOUT_S = 60.0  # per 1000 services, at least this
STALL_S = 20.0  # start-up has failed when no service came up for this long
STOP_TIMEOUT_S = 60.0
QUICK = {"sizes": [10, 100], "rounds": 2, "idle": 2.0, "big": 0, "repeats": 1,
         "client_rounds": 3}

# The targets, at TARGET_N services.
TARGET_N = 1000
START_LIMIT_MS = 1000.0
MEMORY_LIMIT_MIB = 30.0
STOP_LIMIT_MS = 700.0

CAP_SYS_RESOURCE = 24
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
KIB_PER_MIB = 1024

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
    # Client wall times, control and signal latencies: ms per "CLIENT/OP" (`probes.Timings`).
    timings: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    crash_restarts: int | None = None
    crash_first_ms: float | None = None
    crash_interval_ms: float | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    """How much of what each run measures (from the command line; kept with the data)."""

    rounds: int
    sizes: list[int]
    big: int
    idle: float
    probe_size: int
    repeats: int
    client_rounds: int
    crash_window: float = probes.CRASH_WINDOW_S


def build_tree(root: Path, count: int) -> list[Path]:
    """`count` service directories under `root`, each one ``exec sleep 100000``.

    The first one ignores HUP (`probes.WALL_SERVICE`: the clients' ``svc -h`` goes there).
    """
    root.mkdir()
    services = []
    for number in range(count):
        service = root / f"s{number:05d}"
        service.mkdir()
        run = service / "run"
        run.write_text(RUN_IGNORING_HUP if number == probes.WALL_SERVICE else RUN)
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


def while_up(scanner: Scanner, n: int, services: list[Path], descendants: Descendants,
             settings: Settings, sample: Sample) -> None:
    """The probes on a tree all up: clients at every size, the rest at the probe size."""
    clients = tuple(client for client in scanner.clients if client.installed)
    timings = probes.Timings()
    if settings.client_rounds:
        print(f"  clients: {settings.client_rounds} rounds", flush=True)
        probes.wall_times(clients, services, settings.client_rounds, timings)
    if n == settings.probe_size:
        print(f"  control and signals: {settings.repeats} x {len(clients)} clients; crash "
              f"restart: {settings.crash_window:.0f} s", flush=True)
        for _ in range(settings.repeats):
            for client in clients:
                probes.control(client, services, descendants, timings)
        crashed = probes.crash(services, descendants, settings.crash_window, sample.problems)
        sample.crash_restarts = crashed.restarts
        sample.crash_first_ms = crashed.first_ms
        sample.crash_interval_ms = crashed.interval_ms
    sample.timings, sample.failures = timings.samples, timings.failures
    sample.problems += timings.problems


def one_run(scanner: Scanner, n: int, scratch: Path, settings: Settings) -> Sample:
    """Start `scanner` on a fresh tree of `n`, measure, stop it, and leave nothing behind."""
    sample = Sample()
    stop_offset: int | None = None
    tree = scratch / f"{scanner.key}-{n}"
    log = scratch / f"{scanner.key}-{n}.log"
    services = build_tree(tree, n)
    if scanner.prepare is not None:
        scanner.prepare(tree, services)
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
        time.sleep(settings.idle)
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
        if sample.up == n:
            while_up(scanner, n, services, descendants, settings, sample)
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
        set_aside(tree, scratch)
        log.unlink(missing_ok=True)
    return sample


def set_aside(tree: Path, scratch: Path) -> None:
    """Move a used tree out of the way; it is removed with `scratch`, after the last run.

    Not removed now: ext4 skips inodes freed in the last half minute or so when it
    allocates new ones (``recently_deleted``), so removing 10,000 files just before the
    next run made every file the next supervisor created slower, and more so run
    after run (a 1000-service start went from 1.9 s to 5.5 s in five runs).
    """
    used = scratch / "used"
    used.mkdir(exist_ok=True)
    tree.rename(used / f"{tree.name}-{time.monotonic_ns()}")


def stderr_lines(data: bytes, most: int = 10) -> list[str]:
    """A scanner's output: each kind of line once (service names as sNNNNN) with a count.

    Kinds in order of first appearance, at most `most` of them; then the first line as is.
    """
    lines = data.decode(errors="replace").splitlines()
    kinds: dict[str, int] = {}
    for line in lines:
        kind = re.sub(r"\b\d+\b", "N", re.sub(r"\bs\d{5}\b", "sNNNNN", line))
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
    return f"{got.median / base.median:,.2f}x"


def size(n: int, samples: list[Sample]) -> str:
    """N, and how many services were up where some run did not bring all N up."""
    short = sorted({s.up for s in samples if s.up < n})
    return f"{n:,}" + (f" ({', '.join(f'{up:,}' for up in short)} up)" if short else "")


def metric_table(results: Results, columns: list[tuple[str, str, float, int]],
                 only: int | None = None) -> str:
    """A row per (N, scanner); per metric: median, min-max, and the ratio to daemontools'.

    `only`: the rows of that N alone (a metric measured at one size).
    """
    headers = ["N", "scanner"]
    for title, _, _, _ in columns:
        headers += [title, "min-max", "vs daemontools"]
    rows = []
    for (key, n), samples in results.items():
        if only is not None and n != only:
            continue
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


def pooled(samples: list[Sample], key: str) -> Summary | None:
    """Every run's timings of ``CLIENT/OP`` `key` together; failures: runs that failed."""
    values = [value for sample in samples for value in sample.timings.get(key, [])]
    failed = sum(sample.failures.get(key, 0) for sample in samples)
    return Summary.of(values, failed) if values else None


def cells(got: Summary | None, base: Summary | None, baseline: bool) -> list[str]:
    """Median, min-max and ratio to daemontools of a timing (ms, one decimal)."""
    if got is None:
        return ["failed (see Problems)" if base is not None or baseline else "n/a", "", ""]
    return [number(got.median, 1), spread(got, 1.0, 1), "" if baseline else ratio(got, base)]


Clients = dict[str, list[dict[str, Any]]]  # scanner -> its clients: key and command texts


def latency_table(results: Results, clients: Clients, n: int,
                  columns: list[tuple[str, str]]) -> str:
    """A row per (scanner, client) at `n`; per operation: median, min-max, vs daemontools."""
    base_client = clients[BASELINE.key][0]["key"] if BASELINE.key in clients else ""
    headers = ["scanner", "client"]
    for title, _ in columns:
        headers += [title, "min-max", "vs daemontools"]
    rows = []
    for (key, size_), samples in results.items():
        if size_ != n:
            continue
        for client in clients.get(key, []):
            row = [key, client["key"]]
            for _, op in columns:
                base = pooled(results.get((BASELINE.key, n), []),
                              probes.latency_key(base_client, op))
                row += cells(pooled(samples, probes.latency_key(client["key"], op)), base,
                             key == BASELINE.key)
            rows.append(row)
    return timing.markdown_table(headers, rows)


def wall_table(results: Results, clients: Clients, op: str) -> str:
    """Client wall time of `op`: a row per (N, scanner, client), then the floors at that N."""
    base_client = clients[BASELINE.key][0]["key"] if BASELINE.key in clients else ""
    headers = ["N", "scanner", "client", "command", "median ms", "min-max", "vs daemontools",
               "vs floor"]
    rows = []
    for n in sorted({n for _, n in results}):
        at_n = [(key, samples) for (key, size_), samples in results.items() if size_ == n]
        everyone = [sample for _, samples in at_n for sample in samples]
        floor = pooled(everyone, probes.wall_key(probes.FLOOR_KEY, probes.FLOOR))
        base = pooled(results.get((BASELINE.key, n), []), probes.wall_key(base_client, op))
        for key, samples in at_n:
            if not any(sample.timings for sample in samples):
                continue  # not all up: no client was timed
            for client in clients.get(key, []):
                text = client["commands"][op]
                if text == "none":
                    rows.append([f"{n:,}", key, client["key"], f"none ({client['key']} has no "
                                 "such command)", "", "", "", ""])
                    continue
                got = pooled(samples, probes.wall_key(client["key"], op))
                text = text.replace("DIRS", f"DIR x {n:,}")
                rows.append([f"{n:,}", key, client["key"], f"`{text}`",
                             *cells(got, base, key == BASELINE.key),
                             ratio(got, floor) if got is not None else ""])
        for label in probes.floors():
            got = pooled(everyone, probes.wall_key(probes.FLOOR_KEY, label))
            if got is not None:
                rows.append([f"{n:,}", "floor", "", f"`{label}`", number(got.median, 1),
                             spread(got, 1.0, 1), "", ratio(got, floor) if label != probes.FLOOR
                             else ""])
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
    """Every run's problems; a run of lines that differ only in their numbers said once."""
    lines = []
    for (key, n), samples in results.items():
        for number_, sample in enumerate(samples, 1):
            kinds: list[tuple[str, str, int]] = []  # (kind, first text, how many)
            for text in sample.problems:
                kind = re.sub(r"\d[\d,]*", "N", text)
                if kinds and kinds[-1][0] == kind:
                    kinds[-1] = (kind, kinds[-1][1], kinds[-1][2] + 1)
                else:
                    kinds.append((kind, text, 1))
            lines += [f"- {key}, N={n:,}, run {number_}: {text}"
                      + (f" (and {count - 1} more lines like it)" if count > 1 else "")
                      for _, text, count in kinds]
    return lines or ["- none: every run started all its services, stopped them all, left "
                     "nothing behind, and no scanner wrote anything"]


WALL_TITLES = {
    probes.SIGNAL: "send HUP to one service (`svc -h DIR`)",
    probes.CHECK: "is its supervisor running (`svok DIR`)",
    probes.STATUS: "status of one service (`svstat DIR`)",
    probes.STATUS_ALL: "status of all N services (`svstat DIR...`)",
}


def load(data: dict[str, Any]) -> tuple[Settings, Results, Clients]:
    """What `main` wrote to svscan.json, as the report functions take it."""
    settings = Settings(**data["settings"])
    results: Results = {(run["scanner"], run["n"]): [Sample(**sample) for sample in run["samples"]]
                        for run in data["results"]}
    clients = {scanner["key"]: scanner["clients"] for scanner in data["scanners"]}
    return settings, results, clients


def sections(data: dict[str, Any], level: str = "##") -> list[str]:
    """The detailed tables, one section per metric (Markdown lines), headings at `level`."""
    settings, results, clients = load(data)
    n = settings.probe_size
    probed = any(size_ == n for _, size_ in results)
    lines = [
        f"{level} Start-up: spawn until all N services have exec'd `sleep` (ms)",
        "",
        metric_table(results, [("median ms", "start_ms", 1.0, 0)]),
        "",
        f"{level} Memory of the supervisor processes, all up (after the idle window)",
        "",
        memory_table(results),
        "",
        f"{level} Idle cost over {settings.idle:.0f} s, all up: CPU time and context switches "
        "of the supervisor processes",
        "",
        metric_table(results, [("CPU ms", "cpu_ms", 1.0, 0), ("switches", "switches", 1.0, 0)]),
        "",
    ]
    if probed:
        lines += [
            f"{level} Control latency at N = {n:,}: client spawned until the service's `sleep` "
            "has exited (`down`) or a new one has exec'd (`up`), ms",
            "",
            latency_table(results, clients, n, [("down", probes.DOWN), ("up", probes.UP)]),
            "",
            f"{level} Signal delivery at N = {n:,}: client spawned until the service has "
            "received SIGHUP (and died of it), ms",
            "",
            latency_table(results, clients, n, [("HUP", probes.SIGNAL)]),
            "",
            f"{level} Crash restart at N = {n:,}: a service that exits at once, for "
            f"{settings.crash_window:.0f} s",
            "",
            metric_table(results, [
                (f"starts in {settings.crash_window:.0f} s", "crash_restarts", 1.0, 0),
                ("first after the kill, ms", "crash_first_ms", 1.0, 0),
                ("between two starts, ms", "crash_interval_ms", 1.0, 0),
            ], only=n),
            "",
        ]
    lines += [
        f"{level} Stop-all: stop request until every service, supervisor and the scanner are "
        "gone (ms)",
        "",
        metric_table(results, [("median ms", "stop_ms", 1.0, 0)]),
        "",
    ]
    if settings.client_rounds:
        lines += [f"{level} Client wall time: spawn until exit, ms", ""]
        for op, title in WALL_TITLES.items():
            lines += [f"{level}# {title[0].upper()}{title[1:]}", "",
                      wall_table(results, clients, op), ""]
    return lines


def run_notes(data: dict[str, Any]) -> list[str]:
    """How the runs went: what each is, how each supervisor is started and stopped."""
    settings = Settings(**data["settings"])
    rounds = (f"{settings.rounds} at N = {', '.join(f'{n:,}' for n in settings.sizes)}, "
              "scanners interleaved; " + (f"ours alone at {settings.big:,}, 1 round"
                                          if settings.big else "no big tree"))
    return [
        f"- rounds: {rounds}",
        f"- {data['compiled']}",
        f"- each run: a fresh tree of N directories, `run` = `{RUN.splitlines()[0]}` + "
        f"`{RUN.splitlines()[1]}` (the first one also `trap '' HUP`); N `sleep`s up (a scan of "
        f"/proc, then a pause of twice its length, at least {START_POLL_S * 1000:.0f} ms), "
        f"{SETTLE_S:.0f} s settling, {settings.idle:.0f} s idle window, memory, "
        f"{settings.client_rounds} rounds of client wall times, at N = "
        f"{settings.probe_size:,} {settings.repeats} rounds of control and signal per client "
        f"and {settings.crash_window:.0f} s of crash restarts, then stop-all (polled every "
        f"{STOP_POLL_S * 1000:.0f} ms); then anything left is SIGKILLed by pid and the tree "
        f"removed; a start-up has failed when no service came up for {STALL_S:.0f} s, and is "
        "then measured on the services up",
        "- supervisor processes = the scanner and its children that are not services "
        "(`supervise`, `runsv`, `s6-supervise`; ours and supervisord are one process); the "
        f"`sleep`s are not counted anywhere; CPU time in clock ticks ({TICK_MS:.0f} ms) per "
        "process",
        "- the machine is shared: other sessions' processes may run meanwhile (load average "
        "above), which is why the scanners are interleaved and min-max is given",
        *(f"- {s['key']}: `{s['command']}` (N=1000), stopped by {s['stop']}"
          for s in data["scanners"]),
    ]


def report(data: dict[str, Any]) -> str:
    """The whole Markdown result file (benchmarks/results/svscan.md)."""
    settings, results, _ = load(data)
    return "\n".join([
        "# svscan benchmarks",
        "",
        *(f"- {key}: {value}" for key, value in data["about"].items()),
        *run_notes(data),
        "",
        *sections(data),
        "## Targets",
        "",
        *targets(results, settings.big),
        "",
        "## Problems",
        "",
        *problems(results),
        "",
    ])


def describe(scanner: Scanner) -> dict[str, Any]:
    """A scanner as the report names it: command line, stop, clients' commands."""
    def client(it: Client) -> dict[str, Any]:
        return {"key": it.key, "commands": {op: it.text(op) for op in
                                             (*probes.LATENCY_OPS, *probes.WALL_OPS)}}

    return {"key": scanner.key, "command": " ".join(scanner.argv(Path("DIR"), 1000)),
            "stop": scanner.stop_text,
            "clients": [client(it) for it in scanner.clients if it.installed]}


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.svscan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    quick = " ".join(f"--{key.replace('_', '-')} "
                     f"{','.join(map(str, value)) if isinstance(value, list) else value}"
                     for key, value in QUICK.items())
    parser.add_argument("--quick", action="store_true", help="a few minutes' check of the "
                        f"whole path, not results: {quick} (options given as well win)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size (default 3)")
    parser.add_argument("--sizes", type=lambda text: [int(n) for n in text.split(",")],
                        default=list(SIZES), help="tree sizes for everybody (default 10,100,1000)")
    parser.add_argument("--big", type=int, default=BIG,
                        help="tree size for ours alone, one round; 0 for none (default 10000)")
    parser.add_argument("--idle", type=float, default=IDLE_S,
                        help=f"idle window in seconds (default {IDLE_S:.0f})")
    parser.add_argument("--probe-size", type=int, default=PROBE_N,
                        help=f"tree size for control, signal and crash (default {PROBE_N})")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"control and signal rounds per client and run (default {REPEATS})")
    parser.add_argument("--client-rounds", type=int, default=CLIENT_ROUNDS,
                        help=f"client wall-time rounds per run; 0 for none (default "
                        f"{CLIENT_ROUNDS})")
    parser.add_argument("--scanners", type=lambda text: text.split(","),
                        default=[s.key for s in SCANNERS],
                        help=f"which of {','.join(s.key for s in SCANNERS)} to run (default all)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="Markdown result file")
    parser.add_argument("--data", type=Path, default=DATA, help="JSON file of every sample")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
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


def brief(sample: Sample) -> str:
    """One line of progress: the headline figures of a run, and its problems."""
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f} ms"

    pss = "-" if sample.pss_kib is None else f"{sample.pss_kib / KIB_PER_MIB:.1f} MiB"
    told = [f"up {sample.up}", f"start {ms(sample.start_ms)}", f"PSS {pss}",
            f"idle CPU {ms(sample.cpu_ms)}", f"stop {ms(sample.stop_ms)}"]
    if sample.crash_restarts is not None:
        told.append(f"crash starts {sample.crash_restarts}")
    return ", ".join(told) + "".join(f"\n  problem: {text}" for text in sample.problems)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    exit_on_sigterm()
    settings = Settings(args.rounds, args.sizes, args.big, args.idle, args.probe_size,
                        args.repeats, args.client_rounds)
    compiled = timing.compile_bytecode(str(BIN / "python"), "src", cwd=str(ROOT))
    print(compiled, flush=True)
    about = timing.machine(str(BIN / "python"))
    about["load average at start"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    about["limits"] = ", ".join(check_room(max([*args.sizes, args.big])))
    about["versions"] = versions()
    began = time.monotonic()
    chosen = [s for s in SCANNERS if s.key in args.scanners]
    scanners = [s for s in chosen if s.installed]
    missing = [s.key for s in chosen if not s.installed]
    if missing:
        about["not installed"] = ", ".join(missing) + " (`make bench` installs them)"
    become_subreaper()
    plan = [(s, n) for n in args.sizes for s in scanners if s.most is None or n <= s.most]
    results: Results = {(s.key, n): [] for s, n in plan}
    if args.big and OURS in scanners:
        results[(OURS.key, args.big)] = []
    with tempfile.TemporaryDirectory(prefix="bench-svscan-") as tmp:
        for number_ in range(args.rounds):
            for scanner, n in plan:
                print(f"round {number_ + 1}/{args.rounds}: {scanner.key}, N={n}", flush=True)
                sample = one_run(scanner, n, Path(tmp), settings)
                results[(scanner.key, n)].append(sample)
                print(f"  {brief(sample)}", flush=True)
        if (OURS.key, args.big) in results:
            print(f"ours alone, N={args.big}", flush=True)
            sample = one_run(OURS, args.big, Path(tmp), settings)
            results[(OURS.key, args.big)].append(sample)
            print(f"  {brief(sample)}", flush=True)
    about["whole run"] = f"{(time.monotonic() - began) / 60:.1f} min"
    about["load average at end"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    data = {
        "settings": dataclasses.asdict(settings),
        "about": about,
        "compiled": compiled,
        "scanners": [describe(scanner) for scanner in scanners],
        "results": [{"scanner": key, "n": n, "samples": [dataclasses.asdict(s) for s in samples]}
                    for (key, n), samples in results.items()],
    }
    args.data.parent.mkdir(parents=True, exist_ok=True)
    args.data.write_text(json.dumps(data, indent=1) + "\n")
    timing.publish(report(data), args.output)
    print(f"samples written to {args.data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Throughput and CPU cost of lines through svlog against daemontools' multilog.

Why: a logger sits in the pipe of every service, and a slow one holds the service back
once the pipe is full; svlog is Python where multilog is C, so this checks that the
fast path (a whole read labelled with one ``bytes.replace``, written in one ``write``)
keeps up. Target: ``svlog t`` at least 1.5 times the MB/s of ``multilog t`` in the same
run (issue 16: it held 2x before it learnt to take a line from its pipe only once written,
which costs a peek and a discard per read).

Each run pipes a file of ~100-byte lines (``cat FILE |``) into a fresh
``LOGGER t s16777215 n5 DIR``: wall time from spawn to the logger's exit (so its final
fsync counts), and the logger's own CPU time (user + system, from ``wait4``). Runs are
interleaved A B A B..., medians and min-max reported. Two more pairs are for
information: multilog's default size (a file ends every ~100 kB: svlog replays
multilog's buffering line by line around each cut), and a pattern (``-*`` ``+*x*``:
every line matched, selected or not, by svlog with regular expressions over the read).
A measurement, not a test: it exits 0 and says MISSED when the target is missed.

    python -m benchmarks.svlog [--rounds 5] [--warmup 1] [--megabytes 200] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import timing
from benchmarks.clients import BIN, ROOT, exit_on_sigterm
from benchmarks.timing import Summary

MULTILOG = "/usr/bin/multilog"
CAT = "/bin/cat"
OUTPUT = ROOT / "benchmarks" / "results" / "svlog.md"
MB = 1_000_000
TARGET = 1.5  # svlog's MB/s over multilog's, at least

PLAIN = ["t", "s16777215", "n5"]
SMALL_FILES = ["t", "n5"]  # multilog's default size, 99999: a file ends every ~1300 lines
PATTERN = ["t", "-*", "+*x*", "s16777215", "n5"]


@dataclass(frozen=True)
class Bench:
    """One logger command line; the directory argument is added per run."""

    label: str
    argv: list[str]


@dataclass(frozen=True)
class Run:
    wall: float  # seconds, spawn to the logger's exit
    cpu: float  # the logger's user + system seconds
    code: int


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.svlog", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--megabytes", type=int, default=200, help="input size (default 200)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="Markdown result file")
    return parser.parse_args(argv)


def make_input(path: Path, megabytes: int) -> int:
    """~100-byte lines of words and a counter, `megabytes` MB of them; the size in bytes."""
    rng = random.Random(1)
    words = [b"GET", b"POST", b"/index.html", b"200", b"404", b"user=42", b"served", b"in",
             b"ms", b"alpha", b"beta", b"request", b"from", b"10.0.0.1", b"x"]
    block = bytearray()
    number = 0
    while len(block) < 4 * MB:
        line = b"%08d " % number + b" ".join(rng.choice(words) for _ in range(16))
        block += line[:99] + b"\n"
        number += 1
    with open(path, "wb") as out:
        written = 0
        while written < megabytes * MB:
            out.write(block)
            written += len(block)
    return written


def run_once(argv: list[str], source: Path, log: Path) -> Run:
    """``cat source | argv... log``: wall time, the logger's CPU time, its exit code."""
    reader, writer = os.pipe()
    env = dict(os.environ)
    start = time.perf_counter()
    logger = os.posix_spawn(argv[0], [*argv, str(log)], env,
                            file_actions=[(os.POSIX_SPAWN_DUP2, reader, 0)])
    cat = os.posix_spawn(CAT, [CAT, str(source)], env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, writer, 1)])
    os.close(reader)
    os.close(writer)
    _, status, usage = os.wait4(logger, 0)
    wall = time.perf_counter() - start
    os.waitpid(cat, 0)
    shutil.rmtree(log)
    return Run(wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status))


def measure(benches: list[Bench], source: Path, work: Path, rounds: int,
            warmup: int) -> dict[str, list[Run]]:
    """Every bench once per round, in turn (A B A B ...); warm-up rounds thrown away."""
    runs: dict[str, list[Run]] = {bench.label: [] for bench in benches}
    for number in range(warmup + rounds):
        for bench in benches:
            run = run_once(bench.argv, source, work / "log")
            if number >= warmup:
                runs[bench.label].append(run)
        if number >= warmup:
            print(f"  round {number + 1 - warmup}/{rounds}", flush=True)
    return runs


def summaries(runs: list[Run], size: int) -> tuple[Summary, Summary]:
    """(MB/s, CPU ms per MB) over the runs."""
    failures = sum(run.code != 0 for run in runs)
    speed = Summary.of([size / MB / run.wall for run in runs], failures)
    cost = Summary.of([1000 * run.cpu / (size / MB) for run in runs], failures)
    return speed, cost


def table(benches: list[Bench], results: dict[str, tuple[Summary, Summary]]) -> str:
    rows = []
    for bench in benches:
        speed, cost = results[bench.label]
        rows.append([
            f"`{bench.label}`",
            f"{speed.median:.1f}", f"{speed.minimum:.1f}-{speed.maximum:.1f}",
            f"{cost.median:.2f}", f"{cost.minimum:.2f}-{cost.maximum:.2f}",
        ])
    headers = ["logger", "median MB/s", "min-max MB/s", "median CPU ms/MB", "min-max CPU ms/MB"]
    return timing.markdown_table(headers, rows)


def verdicts(pairs: list[tuple[str, str]], results: dict[str, tuple[Summary, Summary]],
             targeted: str) -> list[str]:
    lines = []
    for ours, theirs in pairs:
        faster = results[ours][0].median / results[theirs][0].median
        cheaper = results[ours][1].median / results[theirs][1].median
        verdict = ("met" if faster >= TARGET else "MISSED") if ours == targeted else "no target"
        lines.append(f"- `{ours}` / `{theirs}`: {faster:.2f}x the MB/s, {cheaper:.2f}x the CPU "
                     f"per MB: **{verdict}**")
    for label, (speed, _) in results.items():
        if speed.failures:
            lines.append(f"- WARNING: `{label}` exited non-zero in {speed.failures} runs")
    return lines


def report(args: argparse.Namespace, size: int, benches: list[Bench],
           results: dict[str, tuple[Summary, Summary]], pairs: list[tuple[str, str]]) -> str:
    about = timing.machine(str(BIN / "python"))
    about["rounds"] = f"{args.rounds} measured, after {args.warmup} warm-up rounds, interleaved"
    about["input"] = f"{size / MB:.0f} MB of ~100-byte lines, `cat FILE | LOGGER ... DIR`"
    return "\n".join([
        "# svlog benchmark",
        "",
        *(f"- {key}: {value}" for key, value in about.items()),
        "- MB/s: input bytes over wall time from spawn to the logger's exit (its final fsync "
        "and the 16 MB rotations' fsyncs included); CPU: the logger's user + system time",
        "",
        table(benches, results),
        "",
        f"## Target: `svlog t` at least {TARGET}x the MB/s of `multilog t`",
        "",
        *verdicts(pairs, results, pairs[0][0]),
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    exit_on_sigterm()
    ours = str(BIN / "svlog")
    benches = [
        Bench(f"{name} {' '.join(script)}", [program, *script])
        for script in (PLAIN, SMALL_FILES, PATTERN)
        for name, program in (("svlog", ours), ("multilog", MULTILOG))
    ]
    pairs = [(benches[i].label, benches[i + 1].label) for i in range(0, len(benches), 2)]
    with tempfile.TemporaryDirectory(prefix="bench-svlog-") as tmp:
        source = Path(tmp) / "input"
        size = make_input(source, args.megabytes)
        print(f"input: {size / MB:.0f} MB; {len(benches)} loggers, {args.rounds} rounds",
              flush=True)
        runs = measure(benches, source, Path(tmp), args.rounds, args.warmup)
    results = {label: summaries(got, size) for label, got in runs.items()}
    timing.publish(report(args, size, benches, results, pairs), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

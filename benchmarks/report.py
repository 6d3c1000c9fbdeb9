"""docs/benchmarks.md and its plots, from the samples `benchmarks.svscan` wrote.

For a person choosing a supervisor: a summary table first (each metric at the largest N
every supervisor ran, 1000 with ``make bench``, with its ratio to daemontools), the two plots
a reader wants first (start-up time and memory against N, one line per supervisor), then
every table `benchmarks.svscan` makes, how it was measured, and on what machine. Rendering
only: it runs nothing, so it can be run again on the same JSON file at any time. The plots
need matplotlib (``pip install -e '.[bench]'``, which ``make bench`` does); without it the
document says so and has none.

    python -m benchmarks.report [--data benchmarks/results/svscan.json]
                                [--output docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import probes, svscan, timing
from benchmarks.clients import ROOT
from benchmarks.peers import BASELINE, OURS
from benchmarks.svscan import KIB_PER_MIB, Results, Sample, pooled, summary
from benchmarks.timing import Summary

DOCS = ROOT / "docs"
OUTPUT = DOCS / "benchmarks.md"
PLOTS = {"startup": "benchmarks-startup.png", "memory": "benchmarks-memory.png"}
OUR_C_CLIENTS = "ours, C clients"  # the summary column of our daemon driven by daemontools' C tools

# One summary row: title, how to get a Summary from (samples, client key), scale, digits.
Getter = Callable[[list[Sample], str], Summary | None]


def metric(name: str) -> Getter:
    return lambda samples, client: summary(samples, name)


def wall(op: str) -> Getter:
    return lambda samples, client: pooled(samples, probes.wall_key(client, op))


def latency(op: str) -> Getter:
    return lambda samples, client: pooled(samples, probes.latency_key(client, op))


def cell(got: Summary | None, base: Summary | None, scale: float, digits: int,
         baseline: bool) -> str:
    if got is None:
        return "-"
    text = f"{got.median / scale:,.{digits}f}"
    if baseline or base is None or base.median == 0:
        return text
    return f"{text} ({got.median / base.median:.2f}x)"


def summary_table(results: Results, clients: svscan.Clients, n: int, probe_n: int,
                  idle: float, window: float) -> str:
    """Metric rows, supervisor columns: the median, and in brackets its ratio to daemontools."""
    keys = [key for key, size_ in results if size_ == n]
    columns = [*keys[:1], OUR_C_CLIENTS, *keys[1:]] if OURS.key in keys else keys
    rows_at_n: list[tuple[str, Getter, float, int, bool]] = [
        ("start-up: all N services exec'd, s", metric("start_ms"), 1000.0, 2, False),
        ("memory of the supervisor processes, PSS MiB", metric("pss_kib"), KIB_PER_MIB, 1,
         False),
        ("memory of the supervisor processes, RSS MiB", metric("rss_kib"), KIB_PER_MIB, 1,
         False),
        ("supervisor processes", metric("processes"), 1.0, 0, False),
        (f"idle CPU time over {idle:.0f} s, ms", metric("cpu_ms"), 1.0, 0, False),
        (f"idle context switches over {idle:.0f} s", metric("switches"), 1.0, 0, False),
        ("stop-all: every process gone, s", metric("stop_ms"), 1000.0, 2, False),
        ("client: `svc -h DIR` or its like, ms", wall(probes.SIGNAL), 1.0, 1, True),
        ("client: `svstat` of all N or its like, ms", wall(probes.STATUS_ALL), 1.0, 1, True),
    ]
    rows_at_probe: list[tuple[str, Getter, float, int, bool]] = [
        ("control `down`: client spawned until the service exited, ms", latency(probes.DOWN),
         1.0, 1, True),
        ("control `up`: client spawned until the new service exec'd, ms", latency(probes.UP),
         1.0, 1, True),
        ("signal delivery: client spawned until the service got SIGHUP, ms",
         latency(probes.SIGNAL), 1.0, 1, True),
        (f"crash restart: starts in {window:.0f} s of a service that exits at once",
         metric("crash_restarts"), 1.0, 0, False),
        ("crash restart: time between two starts, ms", metric("crash_interval_ms"), 1.0, 0,
         False),
    ]
    base_client = clients[BASELINE.key][0]["key"] if BASELINE.key in clients else ""
    rows = []
    for at, specs in ((n, rows_at_n), (probe_n, rows_at_probe)):
        if not any(size_ == at for _, size_ in results):
            continue
        for title, get, scale, digits, by_client in specs:
            base = get(results.get((BASELINE.key, at), []), base_client)
            row = [f"{title} (N = {at:,})"]
            for column in columns:
                key = OURS.key if column == OUR_C_CLIENTS else column
                own = clients.get(key, [])
                if column == OUR_C_CLIENTS:
                    if not by_client or len(own) < 2:
                        row.append("")
                        continue
                    client = own[1]["key"]
                else:
                    client = own[0]["key"] if own else ""
                got = get(results.get((key, at), []), client)
                row.append(cell(got, base, scale, digits, key == BASELINE.key
                                and column != OUR_C_CLIENTS))
            rows.append(row)
    return timing.markdown_table(["median (ratio to daemontools)", *columns], rows)


def headline(results: Results, n: int) -> list[str]:
    """One sentence of figures at `n`: ours against daemontools."""
    ours, base = results.get((OURS.key, n), []), results.get((BASELINE.key, n), [])
    told = []
    for name, what, scale, unit, digits in (
            ("pss_kib", "holds them in", KIB_PER_MIB, "MiB PSS", 1),
            ("start_ms", "starts them in", 1000.0, "s", 2),
            ("stop_ms", "stops them all in", 1000.0, "s", 2)):
        got, theirs = summary(ours, name), summary(base, name)
        if got is not None and theirs is not None:
            told.append(f"{what} {got.median / scale:,.{digits}f} {unit} (daemontools "
                        f"{theirs.median / scale:,.{digits}f})")
    if not told:
        return []
    return [f"At {n:,} services on this machine our svscan " + ", ".join(told) + "."]


def caution(settings: svscan.Settings) -> list[str]:
    """A warning when the runs were too few or too small to be results (``--quick``)."""
    if settings.rounds >= 3 and max(settings.sizes) >= svscan.TARGET_N:
        return []
    return [f"> **A check run, not results**: {settings.rounds} rounds at N = "
            f"{', '.join(f'{n:,}' for n in settings.sizes)}, {settings.idle:g} s idle window. "
            "`make bench` without QUICK gives the real figures.", ""]


def clients_table(data: dict[str, Any]) -> str:
    """What each client command is, per supervisor."""
    ops = [("up", probes.UP), ("down", probes.DOWN), ("HUP", probes.SIGNAL),
           ("running?", probes.CHECK), ("status", probes.STATUS),
           ("status of all", probes.STATUS_ALL)]
    rows = [[scanner["key"], client["key"], *(f"`{client['commands'][op]}`" if
                                               client["commands"][op] != "none" else "none"
                                               for _, op in ops)]
            for scanner in data["scanners"] for client in scanner["clients"]]
    return timing.markdown_table(["supervisor", "client", *(title for title, _ in ops)], rows)


# --- plots ----------------------------------------------------------------------------------


def plot(results: Results, where: Path) -> list[str]:
    """The two PNGs in `where`; Markdown lines showing them, or saying why there are none."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError:
        return ["(No plots: matplotlib is not installed here; `make bench` installs it, or "
                "`.venv/bin/pip install -e '.[bench]'`, then `python -m benchmarks.report`.)"]
    keys = list(dict.fromkeys(key for key, _ in results))
    panels = {
        "startup": [("start-up: all N services exec'd (s)", "start_ms", 1000.0)],
        "memory": [("supervisor processes, PSS (MiB)", "pss_kib", KIB_PER_MIB),
                   ("supervisor processes, RSS (MiB)", "rss_kib", KIB_PER_MIB)],
    }
    styles = dict(zip(keys, itertools.cycle([("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."),
                                             ("v", "-")]), strict=False))
    lines = []
    for name, specs in panels.items():
        figure, axes = plt.subplots(1, len(specs), figsize=(6.5 * len(specs), 4.5),
                                    squeeze=False)
        for axis, (title, field, scale) in zip(axes[0], specs, strict=True):
            plotted: set[int] = set()
            for key in keys:
                points = []
                for (k, n), samples in sorted(results.items(), key=lambda item: item[0][1]):
                    got = summary(samples, field)
                    if k == key and got is not None and all(s.up == n for s in samples):
                        points.append((n, got))
                if not points:
                    continue
                xs = [n for n, _ in points]
                ys = [got.median / scale for _, got in points]
                low = [(got.median - got.minimum) / scale for _, got in points]
                high = [(got.maximum - got.median) / scale for _, got in points]
                marker, style = styles[key]
                axis.errorbar(xs, ys, yerr=[low, high], marker=marker, linestyle=style,
                              capsize=3, label=key, linewidth=2.5 if key == OURS.key else 1.5)
                plotted.update(xs)
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xticks(sorted(plotted))
            axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
            axis.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.xaxis.set_minor_formatter(NullFormatter())
            axis.yaxis.set_minor_formatter(NullFormatter())
            axis.set_xlabel("services (N)")
            axis.set_title(title)
            axis.grid(True, which="both", alpha=0.3)
            axis.legend()
        figure.suptitle("median and min-max over the runs; same machine, supervisors "
                        "interleaved", fontsize=9)
        figure.tight_layout()
        path = where / PLOTS[name]
        figure.savefig(path, dpi=100)
        plt.close(figure)
        lines.append(f"![{name} against N]({PLOTS[name]})")
        print(f"plot written to {path}")
    return lines


# --- the document ---------------------------------------------------------------------------


def method(data: dict[str, Any]) -> list[str]:
    settings = svscan.Settings(**data["settings"])
    return [
        "Each supervisor gets a fresh tree of N service directories whose `run` is "
        "`#!/bin/sh` + `exec sleep 100000` (the first also has `trap '' HUP`, so that the "
        "clients' `svc -h` kills nothing). daemontools' `svscan`, runit's `runsvdir`, "
        "s6's `s6-svscan` and ours scan the tree; supervisord gets the same directories as N "
        "`[program:sNNNNN]` sections (`command=DIR/run`, `directory=DIR`, "
        "`autorestart=true`, `startsecs=0` so that a started program is up at once, output "
        "discarded), all in one `[group:tree]`, and runs in the foreground (`supervisord -n`). "
        "The group is there for stop-all: supervisord stops its groups one after another, and "
        "each group whose process it did not reap in the same turn of its loop waits for its "
        "1 s poll timeout, so N ungrouped programs take up to N seconds to stop (30 took 16 s "
        "in a trial run here); a group is stopped in one go, as the others stop a tree. "
        "Runs are interleaved: one run of each supervisor in turn (A B C D E A B C D E ...), "
        f"{settings.rounds} rounds at each N; each figure is the median over the runs, "
        "with the smallest and largest run beside it.",
        "",
        "- **start-up**: from just before the supervisor is spawned until all N services "
        "have exec'd `sleep`, seen in /proc (the supervisor's descendants whose comm is "
        "`sleep`), polled every 10 ms or more;",
        f"- **memory** and **idle cost**: once all are up and {svscan.SETTLE_S:.0f} s "
        f"more, CPU time (utime + stime, 10 ms ticks) and context switches over "
        f"{settings.idle:.0f} s, then PSS and RSS (/proc/PID/smaps_rollup), of the "
        "supervisor processes: the scanner and its children that are not services "
        "(`supervise`, `runsv`, `s6-supervise`: one per service; ours and supervisord are "
        "one process). PSS shares a binary's pages among its N copies, so it is the fair "
        "total; RSS counts them N times;",
        f"- **client wall time** (every N, {settings.client_rounds} rounds a run): from "
        "`posix_spawn` to `waitpid` of each supervisor's own client, stdio on /dev/null, "
        "round-robin with the floors in the same run: `python -c pass` with the interpreter "
        "our clients run, and `python3 -c pass` as PATH finds it; for our daemon also "
        "daemontools' C clients;",
        f"- **control latency** (N = {settings.probe_size:,}, {settings.repeats} a run): "
        "`down`: from just before the client is spawned until the service's `sleep` has "
        "exited (a pidfd: the kernel wakes the benchmark when it exits); `up`: until a new "
        "child of the same supervisor process runs `sleep` in the service's directory (the "
        "pids allocated since, read from /proc every 0.2 ms: that is the resolution). The "
        "client's own start-up is included, which is why ours is also driven by "
        "daemontools' C `svc`: that isolates the daemon's reaction from Python's start-up. "
        "Each command comes 1.5 s after the service's last start: daemontools' `supervise` "
        "reads no command for a second after each start;",
        "- **signal delivery** (same runs): the service is a plain `sleep` whose HUP is at "
        "the default action, so it dies the moment HUP is delivered: from just before the "
        "client is spawned until it has exited (pidfd). No extra process in the service, "
        "no clock read inside it;",
        f"- **crash restart** (N = {settings.probe_size:,}, once a run): one service's `run` "
        "is replaced (by rename) with `date +%s%N >>starts; exit 1` and its `sleep` is "
        f"SIGKILLed; over {settings.crash_window:.0f} s the supervisor restarts it as it sees "
        "fit. Counted: the starts in the window and the median time between two (the script "
        "lives about a millisecond, so that is the restart delay); the delay of the first "
        "restart after the kill is in the detailed table;",
        "- **stop-all**: from the stop request until every service, every supervisor "
        "process and the scanner have exited. Each is stopped as its manual says: ours and "
        "supervisord by SIGTERM; daemontools by `svc -dx` on every service, then SIGTERM to "
        "`svscan`; runit by SIGHUP to `runsvdir`; s6 by `s6-svscanctl -t`.",
        "",
        "The benchmark makes itself a child subreaper, so every process a run starts stays "
        "its descendant; after each run it SIGKILLs, by pid, whatever is left, and says so "
        "under Problems. The machine may be shared (see the load averages): that is why the "
        "runs are interleaved and spreads are given.",
        "",
        "Commands used with each supervisor (`DIR` a service directory, `NAME` its name; "
        "supervisorctl also gets `-c` and the configuration file):",
        "",
        clients_table(data),
        "",
        *(f"- {s['key']}: `{s['command']}` (N = 1000), stopped by {s['stop']}"
          for s in data["scanners"]),
    ]


def document(data: dict[str, Any], plots: list[str]) -> str:
    settings, results, clients = svscan.load(data)
    shared = [n for n in settings.sizes
              if all((key, n) in results for key in {key for key, _ in results})]
    n = max(shared or settings.sizes)
    return "\n".join([
        "# Benchmarks: our svscan against daemontools, runit, s6 and supervisord",
        "",
        "Generated by `make bench` (`benchmarks/svscan.py` measures, `benchmarks/report.py` "
        "writes this page); every supervisor was measured in the same run on the same "
        f"machine ({data['about'].get('date', '?')}, {data['about'].get('cpus (nproc)', '?')} "
        "CPUs, see Machine). Figures are medians over the runs; ratios are to daemontools at "
        "the same N (below 1 is better for every metric but crash restarts).",
        "",
        *caution(settings),
        *headline(results, n),
        "",
        f"## Summary (N = {n:,}; control, signal and crash at N = {settings.probe_size:,})",
        "",
        summary_table(results, clients, n, settings.probe_size, settings.idle,
                      settings.crash_window),
        "",
        f"`{OUR_C_CLIENTS}`: our daemon driven by daemontools' C clients (`/usr/bin/svc`, "
        "`svstat`): the daemon's own reaction, without Python's start-up. `-`: not "
        "measured, or no such client (runit has no `svok`, `s6-svstat` reads one directory).",
        "",
        *plots,
        "",
        "## Detailed results",
        "",
        *svscan.sections(data, level="###"),
        "## Method",
        "",
        *method(data),
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in data["about"].items()),
        f"- {data['compiled']}",
        "",
        "## Our own targets",
        "",
        *svscan.targets(results, settings.big),
        "",
        "## Problems",
        "",
        *svscan.problems(results),
        "",
        "## Running it again",
        "",
        "```sh",
        "make bench           # installs daemontools, runit, s6 (Debian) and supervisor "
        "(PyPI, in .venv/supervisor), measures, writes this page",
        "make bench QUICK=1   # a few minutes' check of the whole path: small trees, few "
        "rounds (not results)",
        "python -m benchmarks.report   # this page again from benchmarks/results/svscan.json",
        "```",
        "",
    ])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=svscan.DATA,
                        help="samples written by benchmarks.svscan")
    parser.add_argument("--output", type=Path, default=OUTPUT,
                        help="Markdown file; the plots go beside it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    data = json.loads(args.data.read_text())
    _, results, _ = svscan.load(data)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    timing.publish(document(data, plot(results, args.output.parent)), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

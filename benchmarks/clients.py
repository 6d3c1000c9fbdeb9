"""Wall time of our svc -h, svok and svstat against a bare interpreter and daemontools' C tools.

Why: scripts call the clients in loops (``until svok dir; do ...``), so what they cost is
almost all start-up, and trio is banned from them for that reason (``import trio`` costs
100-120 ms by ``python -X importtime``). This measures whether the ban pays: ``svc`` and
``svok`` should cost within 1.3x of ``python -c pass`` with the same interpreter, and
``svstat`` of 1000 directories under 100 ms (supervisord's ``supervisorctl status`` takes
about 2 s for 1000 programs, daemontools' ``svstat`` about 10 ms).

The clients talk to a real supervisor: one ``.venv/bin/supervise`` process runs 1000
``sleep`` services in a temporary tree, and is stopped (SIGTERM) at the end. A measurement,
not a test: it exits 0 even when a target is missed, and says MISSED.

    python -m benchmarks.clients [--rounds 50] [--warmup 3] [--services 1000] [--output FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import timing
from benchmarks.timing import Command, Summary

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
DEBIAN = Path("/usr/bin")
OUTPUT = ROOT / "benchmarks" / "results" / "clients.md"

RUN = "#!/bin/sh\nexec sleep 100000\n"
# `svc -h` is sent to the first directory every round, and HUP kills a plain sleep, which the
# daemon would then restart (at most once a second) while we measure: that one ignores HUP.
RUN_IGNORING_HUP = "#!/bin/sh\ntrap '' HUP\nexec sleep 100000\n"

FLOOR = "floor: .venv/bin/python -c pass"
FLOOR_RATIO = 1.3
SVSTAT_ALL_LIMIT_MS = 100.0
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Bench:
    """One command to time, and the daemontools program it is compared with, if any."""

    label: str
    argv: Command
    c_label: str | None = None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.clients", description=__doc__)
    parser.add_argument("--rounds", type=int, default=50, help="measured rounds (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first")
    parser.add_argument("--services", type=int, default=1000, help="directories supervised")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="Markdown result file")
    return parser.parse_args(argv)


# --- the supervised tree -------------------------------------------------------------------


def build_tree(root: Path, count: int) -> list[Path]:
    """`count` service directories under `root`, each running a long sleep."""
    services = []
    for number in range(count):
        service = root / f"s{number:04d}"
        service.mkdir()
        run = service / "run"
        run.write_text(RUN_IGNORING_HUP if number == 0 else RUN)
        run.chmod(0o755)
        services.append(service)
    return services


def status_pid(service: Path) -> int:
    """The pid in ``supervise/status`` (bytes 12-15, little-endian); 0 if down or unwritten."""
    try:
        data = (service / "supervise" / "status").read_bytes()
    except OSError:
        return 0
    return int.from_bytes(data[12:16], "little") if len(data) >= 18 else 0


def wait_until_up(daemon: subprocess.Popen[bytes], services: list[Path], log: Path) -> set[int]:
    """Block until every status shows a pid; return the pids, for the clean-up."""
    waiting, pids = list(services), set()
    deadline = time.monotonic() + START_TIMEOUT_S
    while waiting:
        if daemon.poll() is not None:
            raise RuntimeError(f"supervise exited {daemon.returncode}: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} services not up after {START_TIMEOUT_S} s")
        time.sleep(0.1)
        still = []
        for service in waiting:
            pid = status_pid(service)
            if pid:
                pids.add(pid)
            else:
                still.append(service)
        waiting = still
    return pids


def stop(daemon: subprocess.Popen[bytes]) -> None:
    """SIGTERM by pid and wait; a second SIGTERM makes it SIGKILL its services; then KILL."""
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
        if daemon.poll() is not None:
            return
        os.kill(daemon.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(STOP_TIMEOUT_S if sig == signal.SIGTERM else 10)
    daemon.wait()


def is_sleep(pid: int) -> bool:
    """Whether `pid` is (still) a live ``sleep``: a recorded pid may have been reused since."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return os.path.basename(argv0) == b"sleep"


def kill_leftovers(pids: set[int]) -> list[int]:
    """SIGKILL, by pid, each recorded service that outlived the daemon; return those pids."""
    left = sorted(pid for pid in pids if is_sleep(pid))
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


@contextlib.contextmanager
def supervised(services: list[Path], log: Path) -> Iterator[None]:
    """Our daemon supervising `services`, all of them up; stopped, and its sleeps gone, after."""
    with open(log, "wb") as output:
        daemon = subprocess.Popen(
            [str(BIN / "supervise"), *map(str, services)], stdout=output, stderr=output
        )
    pids: set[int] = set()
    try:
        pids |= wait_until_up(daemon, services, log)
        print(f"supervise (pid {daemon.pid}) runs {len(services)} services", flush=True)
        yield
        pids |= {pid for pid in map(status_pid, services) if pid}
    finally:
        stop(daemon)
        left = kill_leftovers(pids)
        if left:
            print(f"WARNING: killed {len(left)} sleeps the daemon left: {left[:10]}")
        print(f"supervise (pid {daemon.pid}) exited {daemon.returncode}", flush=True)


# --- the commands --------------------------------------------------------------------------


def python3_on_path() -> list[Bench]:
    """``python3 -c pass`` as a shell would run it (none if PATH has no python3).

    The label says which file that is, and whether it is a script (a pyenv shim, say).
    """
    path = shutil.which("python3")
    if path is None:
        return []
    with open(path, "rb") as program:
        script = program.read(2) == b"#!"
    where = f"{path}, a script" if script else path
    return [Bench(f"python3 -c pass ({where})", [path, "-c", "pass"])]


def benches(services: list[Path]) -> list[Bench]:
    """Everything timed, in round-robin order: floors, ours, daemontools' (if installed)."""
    one, all_ = str(services[0]), [str(s) for s in services]
    n = len(services)
    ours = [
        Bench(FLOOR, [str(BIN / "python"), "-c", "pass"]),
        *python3_on_path(),
        Bench("svc -h DIR", [str(BIN / "svc"), "-h", one], "C svc -h DIR"),
        Bench("svok DIR", [str(BIN / "svok"), one], "C svok DIR"),
        Bench("svstat DIR", [str(BIN / "svstat"), one], "C svstat DIR"),
        Bench(f"svstat {n} DIRs", [str(BIN / "svstat"), *all_], f"C svstat {n} DIRs"),
    ]
    theirs = [
        Bench("C svc -h DIR", [str(DEBIAN / "svc"), "-h", one]),
        Bench("C svok DIR", [str(DEBIAN / "svok"), one]),
        Bench("C svstat DIR", [str(DEBIAN / "svstat"), one]),
        Bench(f"C svstat {n} DIRs", [str(DEBIAN / "svstat"), *all_]),
    ]
    return ours + [b for b in theirs if os.access(b.argv[0], os.X_OK)]


# --- the report ----------------------------------------------------------------------------


def ratio(numerator: Summary, denominator: Summary | None) -> str:
    return f"{numerator.median / denominator.median:.2f}x" if denominator else "n/a"


def table(benches_: list[Bench], results: dict[str, Summary]) -> str:
    """Median, min, max per command, and its median over the floor's and over the C tool's."""
    floor = results[FLOOR]
    rows = []
    for bench in benches_:
        got = results[bench.label]
        c_tool = results.get(bench.c_label) if bench.c_label else None
        rows.append(
            [
                f"`{bench.label}`",
                f"{got.median:.1f}",
                f"{got.minimum:.1f}",
                f"{got.maximum:.1f}",
                "" if bench.label == FLOOR else ratio(got, floor),
                ratio(got, c_tool) if bench.c_label else "",
            ]
        )
    headers = ["command", "median ms", "min ms", "max ms", "vs floor", "vs C"]
    return timing.markdown_table(headers, rows)


def targets(results: dict[str, Summary], n: int) -> list[str]:
    """The issue's targets, each with the number that decides it and met or MISSED."""
    floor = results[FLOOR].median
    lines = []
    for label in ("svc -h DIR", "svok DIR"):
        median = results[label].median
        verdict = "met" if median <= FLOOR_RATIO * floor else "MISSED"
        lines.append(
            f"- `{label}` median <= {FLOOR_RATIO} x floor ({FLOOR_RATIO * floor:.1f} ms): "
            f"{median:.1f} ms = {median / floor:.2f}x: **{verdict}**"
        )
    median = results[f"svstat {n} DIRs"].median
    verdict = "met" if median < SVSTAT_ALL_LIMIT_MS else "MISSED"
    lines.append(
        f"- `svstat {n} DIRs` median < {SVSTAT_ALL_LIMIT_MS:.0f} ms: {median:.1f} ms: **{verdict}**"
    )
    return lines


def failures(results: dict[str, Summary]) -> list[str]:
    """Commands that exited non-zero: their times measure an error path, not the work."""
    return [
        f"- WARNING: `{label}` exited non-zero in {got.failures} of {got.runs} runs"
        for label, got in results.items()
        if got.failures
    ]


def report(
    args: argparse.Namespace,
    benches_: list[Bench],
    results: dict[str, Summary],
    compiled: str,
    n: int,
) -> str:
    """The whole Markdown result file."""
    about = timing.machine(str(BIN / "python"))
    about["rounds"] = f"{args.rounds} measured, after {args.warmup} warm-up rounds"
    return "\n".join(
        [
            "# Client benchmarks",
            "",
            *(f"- {key}: {value}" for key, value in about.items()),
            f"- {compiled}",
            f"- clients run against one `.venv/bin/supervise` supervising {n} `sleep` services",
            "- wall time from `posix_spawn` to `waitpid`, stdin/stdout/stderr `/dev/null`, "
            "commands interleaved round-robin; `DIR` is one of the services (its `run` ignores "
            "HUP so `svc -h` does not restart it); `C` is Debian's daemontools",
            "- the floor is the interpreter our console scripts run; `python3` is whatever "
            "PATH finds, with its own site-packages (and, if a script, e.g. a pyenv shim, "
            "the script's cost too)",
            "",
            table(benches_, results),
            "",
            "## Targets",
            "",
            *targets(results, n),
            *failures(results),
            "",
        ]
    )


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``kill`` of this script still stops the daemon."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    exit_on_sigterm()
    compiled = timing.compile_bytecode(str(BIN / "python"), "src", cwd=str(ROOT))
    print(compiled, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp:
        services = build_tree(Path(tmp), args.services)
        with supervised(services, Path(tmp) / "supervise.log"):
            benches_ = benches(services)
            print(f"timing {len(benches_)} commands, {args.rounds} rounds", flush=True)
            results = timing.round_robin(
                {b.label: b.argv for b in benches_}, args.rounds, args.warmup
            )
    text = report(args, benches_, results, compiled, len(services))
    timing.publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

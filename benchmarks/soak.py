"""Soaks for the reliability claims (issue 8) that are too long for `make test`.

- SIGHUP x100 under load: svscan on a tree of `--services` sleepers plus one service
  writing numbered lines to a ``cat`` logger, two CPU burners beside it; 100 SIGHUPs,
  each waited for (the old image's sockets gone, then a USR1 dump from the new one).
  Afterwards every service must have its first pid, and the log every number once, in
  order, ending with the writer's "end" (written on its TERM at shutdown).
- kill -9 at scale: svscan on `--big` sleepers, SIGKILLed, started again: how long until
  every service is taken back, and whether any was started twice.
- Crash loop: `d` then `u` on a good service, timed until the status says so, with 100
  services crashing every second beside it and without them.
- The logger (`benchmarks.logkill`): svlog SIGKILLed 100 times under a writer of 5 MB/s
  of numbered lines through svscan's log pipe: no line lost, repeats counted.
- Self-healing and leaks (`benchmarks.healing`): a fault injected 20 times in a row into
  svscan over 100 services (none restarted, none twice, all controllable after); 10,000
  restarts of crash-looping services and 1,000 SIGHUPs, the daemon's RSS and descriptors
  before and after.

Writes docs/reliability.md. Every process is cleaned up by pid (this script is a child
subreaper, so the orphans of a killed svscan are its children). Exits 0 unless a claim
failed, which it says.

    python -m benchmarks.soak [--hups 100] [--services 100] [--big 1000] [--log-kills 100]
        [--faults 20] [--restarts 10000] [--crashers 100] [--leak-hups 1000] [--only heal]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import procs, timing
from benchmarks.clients import BIN, ROOT, RUN, exit_on_sigterm
from supervise import status
from supervise.process import become_subreaper

OUTPUT = ROOT / "docs" / "reliability.md"
SVSCAN = [str(BIN / "python"), "-m", "supervise.svscan_cli"]
NUMBERS = ("#!/bin/sh\ntrap 'echo end; exit 0' TERM\ni=1\nwhile :; do echo $i; i=$((i+1)); "
           "case $i in *00) sleep 0.01;; esac; done\n")
LOGGER = "#!/bin/sh\nexec cat >> ./lines\n"
CRASH = "#!/bin/sh\nexit 1\n"
BURN = ["sh", "-c", "while :; do :; done"]
PATIENCE = 120.0
FAULTS = "Self-healing: a fault injected 20 times in a row"
LEAKS = "Leaks: 10,000 restarts and 1,000 SIGHUPs"


def wait_for(check: Callable[[], object], what: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)
        procs.reap({})


def service(root: Path, name: str, run: str) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "run").write_text(run)
    (directory / "run").chmod(0o755)
    return directory


def pid_of(directory: Path) -> int:
    try:
        return status.unpack((directory / "supervise" / "status").read_bytes()).pid
    except (OSError, ValueError):
        return 0


def sockets(pid: int) -> set[str]:
    found = set()
    for entry in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


class Scanner:
    """Our svscan on `root`, its stderr in a file."""

    def __init__(self, root: Path) -> None:
        self.errors = root.parent / f"svscan-{time.monotonic_ns()}.err"
        with open(self.errors, "wb") as output:
            self.process = subprocess.Popen([*SVSCAN, str(root)], stdout=output, stderr=output)

    def stderr(self) -> str:
        return self.errors.read_text()

    def dumps(self) -> int:
        return self.stderr().count(f"svscan: state: pid {self.process.pid}, up ")

    def hup(self) -> float:
        """SIGHUP, and seconds until the new image has answered a USR1."""
        began = time.monotonic()
        old = sockets(self.process.pid)
        self.process.send_signal(signal.SIGHUP)
        wait_for(lambda: not old <= sockets(self.process.pid), "the re-exec")
        before = self.dumps()
        self.process.send_signal(signal.SIGUSR1)
        wait_for(lambda: self.dumps() > before, "a dump from the new image")
        return time.monotonic() - began

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(PATIENCE)


# --- the soaks ----------------------------------------------------------------------------


def hup_soak(scratch: Path, hups: int, count: int) -> dict[str, str]:
    root = scratch / "hup"
    sleepers = [service(root, f"s{n:04d}", RUN) for n in range(count)]
    writer = service(root, "numbers", NUMBERS)
    log = service(writer, "log", LOGGER)
    burners = [subprocess.Popen(BURN) for _ in range(2)]
    try:
        scanner = Scanner(root)
        everyone = [*sleepers, writer, log]
        wait_for(lambda: all(pid_of(each) for each in everyone), "all up")
        first = {each: pid_of(each) for each in everyone}
        times = [scanner.hup() for _ in range(hups)]
        restarted = [str(each) for each in everyone if pid_of(each) != first[each]]
        code = scanner.stop()
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    lines = (log / "lines").read_text().splitlines()
    numbers = [int(line) for line in lines[:-1]]
    in_order = lines[-1:] == ["end"] and numbers == list(range(1, len(numbers) + 1))
    return {
        "SIGHUPs (each waited for)": str(hups),
        "services": f"{count} sleepers + 1 writer + its logger, 2 CPU burners beside",
        "re-exec, median / max": f"{1000 * statistics.median(times):.0f} / "
                                 f"{1000 * max(times):.0f} ms",
        "services restarted": str(len(restarted)) + (f" ({', '.join(restarted[:5])})"
                                                     if restarted else ""),
        "lines logged": f"{len(numbers):,}",
        "lines lost or repeated": "0" if in_order else "SOME: the sequence has gaps or repeats",
        "svscan exit code": str(code),
        "verdict": "ok" if not restarted and in_order and code == 0 else "FAILED",
    }


def kill9_soak(scratch: Path, count: int) -> dict[str, str]:
    root = scratch / "kill9"
    sleepers = [service(root, f"s{n:05d}", RUN) for n in range(count)]
    first = Scanner(root)
    wait_for(lambda: all(pid_of(each) for each in sleepers), f"{count} up")
    pids = {each: pid_of(each) for each in sleepers}
    first.process.kill()
    first.process.wait()
    began = time.monotonic()
    second = Scanner(root)
    wait_for(lambda: second.stderr().count("still runs: supervising it again") >= count,
             "every service taken back")
    taken = time.monotonic() - began
    same = sum(pid_of(each) == pids[each] for each in sleepers)
    sleeping = count_sleeps()
    code = second.stop()
    return {
        "services": f"{count:,}",
        "kill -9, new svscan until all taken back": f"{taken * 1000:.0f} ms",
        "same pid afterwards": f"{same:,} of {count:,}",
        "`sleep` processes running (duplicates would exceed N)": f"{sleeping:,}",
        "svscan exit code": str(code),
        "verdict": "ok" if same == count and sleeping == count and code == 0 else "FAILED",
    }


def count_sleeps() -> int:
    """Services running under this script (zombies not counted)."""
    return sum(stat.comm == procs.SERVICE_COMM and stat.alive
               for stat in procs.Descendants(os.getpid()).scan())


def control_latency(scratch: Path, crashers: int, rounds: int = 10) -> dict[str, list[float]]:
    """Milliseconds from writing `d` (or `u`) until the status says down (or up), per byte.

    Each `u` comes more than a second after the last start, so the one-start-a-second
    rule does not delay it: what is measured is the daemon's reaction.
    """
    root = scratch / f"crash{crashers}"
    for n in range(crashers):
        service(root, f"crash{n:03d}", CRASH)
    good = service(root, "good", RUN)
    scanner = Scanner(root)
    wait_for(lambda: pid_of(good), "good up")
    time.sleep(2)
    control = good / "supervise" / "control"
    samples: dict[str, list[float]] = {"d": [], "u": []}
    for _ in range(rounds):
        for byte, done in (("d", lambda: not pid_of(good)), ("u", lambda: pid_of(good))):
            time.sleep(1.1)
            began = time.monotonic()
            with open(control, "wb") as fifo:
                fifo.write(byte.encode())
            wait_for(done, f"{byte} done")
            samples[byte].append(1000 * (time.monotonic() - began))
    scanner.stop()
    return samples


def crash_soak(scratch: Path) -> dict[str, str]:
    rows = {}
    for crashers in (0, 100):
        measured = control_latency(scratch, crashers)
        beside = f"{crashers} services crashing every second beside it" if crashers else "alone"
        for byte, samples in measured.items():
            rows[f"`{byte}` on a good service, {beside}: median / max"] = (
                f"{statistics.median(samples):.1f} / {max(samples):.1f} ms")
    return rows


def report(parts: list[tuple[str, dict[str, str]]], about: dict[str, str]) -> str:
    text = ["# Reliability soaks", "",
            "Written by `make soak` (`python -m benchmarks.soak`); the tests in `tests/` check "
            "each claim on a small scale, these run them long or large.", ""]
    text += [f"- {key}: {value}" for key, value in about.items()]
    for title, rows in parts:
        text += ["", f"## {title}", "",
                 timing.markdown_table(["", ""], [[key, value] for key, value in rows.items()])]
    return "\n".join(text) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hups", type=int, default=100)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--log-kills", type=int, default=100)
    parser.add_argument("--log-rate", type=int, default=5_000_000, help="bytes a second")
    parser.add_argument("--faults", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=10_000)
    parser.add_argument("--crashers", type=int, default=100)
    parser.add_argument("--leak-hups", type=int, default=1000)
    parser.add_argument("--only", choices=["heal"], help="run only the self-healing and leak "
                        "soaks (their sections replace those of the report; the rest stay)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    exit_on_sigterm()
    become_subreaper()
    about = timing.machine(str(BIN / "python"))
    scratch = Path(tempfile.mkdtemp(prefix="soak-"))
    parts: list[tuple[str, dict[str, str]]] = []
    try:
        if args.only != "heal":
            others(parts, scratch, args)
        from benchmarks.healing import fault_soak, leak_soak  # it imports this module's helpers

        parts.append((FAULTS, fault_soak(scratch, args.services, args.faults)))
        procs.kill_descendants()
        parts.append((LEAKS, leak_soak(scratch, args.crashers, args.restarts, args.leak_hups)))
    finally:
        procs.kill_descendants()
        shutil.rmtree(scratch, ignore_errors=True)
    text = report(parts, about)
    if args.only:
        text = only_these(args.output, parts, about)
    timing.publish(text, args.output)
    return 1 if any(rows.get("verdict") == "FAILED" for _, rows in parts) else 0


def only_these(output: Path, parts: list[tuple[str, dict[str, str]]], about: dict[str, str]
               ) -> str:
    """The report at `output` with the sections of `parts` replaced (the others kept), the
    date and machine of this run noted in each."""
    document = output.read_text() if output.exists() else ""
    stamp = f"({about.get('date', '')}, {about.get('cpu', '')})"
    for title, rows in parts:
        text = "\n".join([f"## {title}", "", f"Run {stamp}.", "", timing.markdown_table(
            ["", ""], [[key, value] for key, value in rows.items()])]) + "\n"
        document = timing.replace_section(document, f"## {title}", text)
    return document


def others(parts: list[tuple[str, dict[str, str]]], scratch: Path, args: argparse.Namespace
           ) -> None:
    """The soaks that came before issue 16's parts 1 and 5."""
    parts.append(("SIGHUP re-executions under load", hup_soak(scratch, args.hups,
                                                             args.services)))
    procs.kill_descendants()
    parts.append(("kill -9 and a new svscan", kill9_soak(scratch, args.big)))
    procs.kill_descendants()
    parts.append(("Control latency beside a crash loop", crash_soak(scratch)))
    procs.kill_descendants()
    from benchmarks.logkill import logger_soak  # it imports this module's helpers

    parts.append(("The logger: svlog killed with SIGKILL under a writer",
                  logger_soak(scratch, args.log_kills, args.log_rate)))
    procs.kill_descendants()


if __name__ == "__main__":
    sys.exit(main())

"""Start-up of ``supervise DIR`` beside daemontools' supervise, and control after a SIGHUP.

Why: most installations run a handful of services, and a supervisor that takes ten times
as long as daemontools' to have its one ./run running is felt at every boot; and a SIGHUP
(a new version of the daemon, or an operator's reload) must not leave the services deaf to
``svc`` for long. So this measures, side by side in one run (rounds interleaved):

- ``supervise DIR`` alone on one directory (as daemontools' svscan runs it): from just
  before the supervisor is spawned until its child has exec'd ``sleep``, ours
  (``python -m supervise.cli``) against Debian's ``/usr/bin/supervise``. Polled on
  /proc/PID/task/PID/children every 0.2 ms;
- our svscan on N services (default 100): a ``d`` written into one service's ``control``,
  until its ``sleep`` has died (its state in /proc is Z or it is gone): without a SIGHUP,
  as the reference; right after a SIGHUP (the old image still reads control until it
  execs, so usually it applies the ``d``); and at the worst moment, once the exec has
  happened (the daemon's epoll descriptor, close-on-exec, is gone): the time from the
  SIGHUP until control bytes are applied again. Then whether any other service was
  restarted across all the SIGHUPs (pids compared: the answer must be none).

Goals (issue 18): ``supervise DIR`` at most 2x daemontools'; control applied again under
100 ms after a SIGHUP at 100 services. The report prints the figures and exits 0 either way.

    python -m benchmarks.startup [--rounds 20] [--services 100] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import procs, timing
from benchmarks.clients import status_pid

RUN = "#!/bin/sh\nexec sleep 100000\n"
DAEMONTOOLS = "/usr/bin/supervise"
POLL_S = 0.0002
TIMEOUT_S = 20.0
OURS = [sys.executable, "-m", "supervise.cli"]
SVSCAN = [sys.executable, "-m", "supervise.svscan_cli"]
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "startup.md"


def make_service(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "run").write_text(RUN)
    (path / "run").chmod(0o755)


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(word) for word in f.read().split()]
    except OSError:
        return []


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def supervise_once(argv: list[str], service: Path, output: int) -> float:
    """Milliseconds from spawn until the supervisor's child runs ``sleep``; then all killed."""
    shutil.rmtree(service / "supervise", ignore_errors=True)
    start = time.perf_counter()
    pid = procs.spawn([*argv, str(service)], output)
    try:
        wait_for(lambda: any(comm(child) == "sleep" for child in children(pid)), "./run")
        return (time.perf_counter() - start) * 1000
    finally:
        procs.kill_descendants()


def services_sleep(scanner: int) -> dict[int, int]:
    """{sleep pid: its supervisor-side parent} under `scanner` (ours: the scanner itself)."""
    return {child: scanner for child in children(scanner) if comm(child) == "sleep"}


def write_control(service: Path, data: bytes) -> None:
    fd = os.open(service / "supervise" / "control", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def dead(pid: int) -> bool:
    """Whether `pid` has died (a zombie not yet reaped counts: the signal took effect)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def polls(pid: int) -> bool:
    """Whether `pid` holds an epoll descriptor: trio's, close-on-exec, so none right after an
    exec until the new image runs its loop."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") == "anon_inode:[eventpoll]":
                return True
        except OSError:
            pass
    return False


def down_after(scanner: int, service: Path, hup: str) -> float:
    """`d` to `service`, with no SIGHUP (`hup` ""), right after one ("now"), or once the
    SIGHUP's exec has happened ("exec"): ms from the SIGHUP (or the `d`) until its ``sleep``
    has died; then `u`, once reaped."""
    pid = status_pid(service)
    assert pid and comm(pid) == "sleep", f"{service} is not up"
    start = time.perf_counter()
    if hup:
        os.kill(scanner, signal.SIGHUP)
    if hup == "exec":
        wait_for(lambda: not polls(scanner), "the SIGHUP's exec")
    write_control(service, b"d")
    wait_for(lambda: dead(pid), f"{service} down")
    elapsed = (time.perf_counter() - start) * 1000
    wait_for(lambda: pid not in children(scanner), f"{service} reaped")
    wait_for(lambda: polls(scanner), "the new image's loop")
    write_control(service, b"u")
    wait_for(lambda: status_pid(service) not in (0, pid) and comm(status_pid(service)) == "sleep",
             f"{service} up again")
    return elapsed


def hup_rounds(root: Path, services: int, rounds: int, output: int) -> dict[str, object]:
    names = [root / f"s{number:04d}" for number in range(services)]
    for path in names:
        make_service(path)
    scanner = procs.spawn([*SVSCAN, str(root)], output)
    try:
        wait_for(lambda: len(services_sleep(scanner)) == services, "every service up")
        time.sleep(0.5)  # the daemon's own start-up is over
        target = names[0]
        others = {path: status_pid(path) for path in names[1:]}
        samples: dict[str, list[float]] = {"": [], "now": [], "exec": []}
        for _ in range(rounds):
            for hup, taken in samples.items():
                taken.append(down_after(scanner, target, hup))
        restarted = sum(status_pid(path) != pid for path, pid in others.items())
        return {"plain": samples[""], "hup": samples["now"], "exec": samples["exec"],
                "restarted": restarted}
    finally:
        os.kill(scanner, signal.SIGTERM)
        try:
            wait_for(lambda: not getattr(procs.read_stat(scanner), "alive", False),
                     "svscan's exit")
        finally:
            procs.kill_descendants()


def row(name: str, samples: list[float], reference: float | None) -> list[str]:
    median = statistics.median(samples)
    ratio = f"{median / reference:.2f}x" if reference else ""
    return [name, f"{median:.1f}", f"{min(samples):.1f}-{max(samples):.1f}", ratio]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    facts = timing.machine(sys.executable)
    facts["bytecode"] = timing.compile_bytecode(sys.executable, "src")
    facts["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        log = os.open(Path(tmp) / "daemons.log", os.O_WRONLY | os.O_CREAT, 0o600)
        ours_dir, theirs_dir = Path(tmp) / "ours", Path(tmp) / "theirs"
        make_service(ours_dir)
        make_service(theirs_dir)
        ours, theirs = [], []
        for number in range(args.rounds + 2):  # two warm-up rounds, not counted
            mine = supervise_once(OURS, ours_dir, log)
            peer = supervise_once([DAEMONTOOLS], theirs_dir, log)
            if number >= 2:
                ours.append(mine)
                theirs.append(peer)
        hups = hup_rounds(Path(tmp) / "tree", args.services, args.rounds, log)
        os.close(log)
    reference = statistics.median(theirs)
    plain = statistics.median(hups["plain"])  # type: ignore[arg-type]
    lines = ["# Start-up of supervise DIR, and control across a SIGHUP", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines += [f"- rounds: {args.rounds} (after 2 warm-up rounds), interleaved", "",
              "## `supervise DIR`: spawn until ./run has exec'd `sleep` (ms)", "",
              timing.markdown_table(["supervisor", "median ms", "min-max", "vs daemontools"], [
                  row("daemontools (C)", theirs, reference),
                  row("ours", ours, reference)]), "",
              f"## `d` across a SIGHUP, svscan on {args.services} services: "
              "until the service's `sleep` has died (ms)", "",
              timing.markdown_table(["case", "median ms", "min-max", "vs no SIGHUP"], [
                  row("no SIGHUP", hups["plain"], plain),  # type: ignore[arg-type]
                  row("right after SIGHUP (the old image applies it)",
                      hups["hup"], plain),  # type: ignore[arg-type]
                  row("once exec'd: SIGHUP until control is applied again",
                      hups["exec"], plain)]), "",  # type: ignore[arg-type]
              f"- other services restarted across {args.rounds} SIGHUPs: {hups['restarted']} "
              "(must be 0)", ""]
    text = "\n".join(lines)
    timing.publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Soaks of issue 16's self-healing (part 1) and leaks (part 5), for `benchmarks.soak`.

- Faults: svscan on `services` sleepers plus one crash-looping service (it dies after
  0.3 s: its deaths and starts are where the reaper and spawn faults land); a fault is
  injected (`supervise.inject`) `faults` times in a row, the points in turn (control read,
  status write, the scan, the reaper's callback, a spawn), each waited for until a new
  image runs. Every fifth fault within a minute stops the re-exec loop (by design,
  `supervise.healing`): the soak checks the line and the daemon, then sends the SIGHUP an
  operator would. Afterwards: every sleeper has its first pid, one process each, and
  answers `d` then `u`.
- Leaks: svscan with `crashers` services that exit at once (restarted once a second each),
  until `restarts` restarts in all; then `hups` SIGHUPs. The daemon's RSS and open
  descriptors before, during and after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from benchmarks import procs
from benchmarks.clients import RUN
from benchmarks.soak import PATIENCE, SVSCAN, pid_of, service, sockets, wait_for
from supervise import status
from supervise.inject import ENV as INJECT

VICTIM = "#!/bin/sh\nsleep 0.3\nexit 1\n"
CRASHER = "#!/bin/sh\necho >> starts\nexit 1\n"  # one byte a start
#: Seconds after a re-exec before the daemon is measured: its scan has opened its inotify.
SETTLE = 1.0
POINTS = ("control", "status", "scan", "reap", "spawn")


class Daemon:
    """Our svscan on `root`, its stderr in a file, the injection hook armed."""

    def __init__(self, root: Path, inject: Path | None = None) -> None:
        self.errors = root.parent / f"svscan-{time.monotonic_ns()}.err"
        self.inject = inject
        env = {**os.environ, **({INJECT: str(inject)} if inject else {})}
        with open(self.errors, "wb") as output:
            self.process = subprocess.Popen([*SVSCAN, str(root)], stdout=output,
                                            stderr=output, env=env)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return self.errors.read_text()

    def new_image(self, old: set[str]) -> bool:
        now = sockets(self.pid)
        return bool(now) and now.isdisjoint(old)

    def hup(self) -> None:
        old = sockets(self.pid)
        self.process.send_signal(signal.SIGHUP)
        wait_for(lambda: self.new_image(old), "the re-exec")

    def usage(self) -> tuple[int, int]:
        """(RSS in KiB, open descriptors) of the daemon now: the fewest descriptors of ten
        looks 20 ms apart, not counting one a restart holds for a moment."""
        fds = []
        for _ in range(10):
            fds.append(len(os.listdir(f"/proc/{self.pid}/fd")))
            time.sleep(0.02)
        with open(f"/proc/{self.pid}/status") as lines:
            rss = next(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))
        return rss, min(fds)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(PATIENCE)


def paused(directory: Path) -> bool:
    return status.unpack((directory / "supervise" / "status").read_bytes()).paused


def send(directory: Path, byte: bytes) -> None:
    with open(directory / "supervise" / "control", "wb") as fifo:
        fifo.write(byte)


def copies(directory: Path) -> int:
    """Processes alive with `directory` as their working directory."""
    found = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd") == str(directory):
                    with open(f"/proc/{entry}/stat") as stat:
                        found += stat.read().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                continue
    return found


def inject(daemon: Daemon, point: str, pulled: Path, victim: Path) -> bool:
    """One fault at `point`, triggered; True if healed by a re-exec, False if the daemon
    gave up (the soak then sends SIGHUP, as an operator would)."""
    assert daemon.inject is not None
    alerts = daemon.stderr().count(": alert: ")
    old = sockets(daemon.pid)
    fd = os.open(daemon.inject, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, point.encode())
    os.close(fd)
    if point in ("control", "status"):
        send(pulled, b"c" if paused(pulled) else b"p")
    elif point == "scan":
        daemon.process.send_signal(signal.SIGALRM)
    # reap and spawn: the victim dies and starts again by itself
    wait_for(lambda: not daemon.inject.exists(), f"the fault at {point}")
    wait_for(lambda: daemon.stderr().count(": alert: ") > alerts, "the alert")
    if "no longer re-executing" in daemon.stderr().splitlines()[-1]:
        assert daemon.process.poll() is None
        daemon.hup()
        return False
    wait_for(lambda: daemon.new_image(old), "the re-exec")
    return True


def fault_soak(scratch: Path, count: int, faults: int) -> dict[str, str]:
    root = scratch / "heal"
    sleepers = [service(root, f"s{n:04d}", RUN) for n in range(count)]
    victim = service(root, "victim", VICTIM)
    daemon = Daemon(root, scratch / "inject")
    wait_for(lambda: all(pid_of(each) for each in sleepers), "all up")
    first = {each: pid_of(each) for each in sleepers}
    began = time.monotonic()
    healed = gave_up = 0
    for n in range(faults):
        if inject(daemon, POINTS[n % len(POINTS)], sleepers[0], victim):
            healed += 1
        else:
            gave_up += 1
    took = time.monotonic() - began
    if paused(sleepers[0]):
        send(sleepers[0], b"c")
    restarted = [each.name for each in sleepers if pid_of(each) != first[each]]
    duplicated = [each.name for each in sleepers if copies(each) != 1]
    for each in sleepers:
        send(each, b"d")
    wait_for(lambda: not any(pid_of(each) for each in sleepers), "every service down")
    for each in sleepers:
        send(each, b"u")
    wait_for(lambda: all(pid_of(each) for each in sleepers), "every service up again")
    alerts = daemon.stderr().count(": alert: internal error in ")
    code = daemon.stop()
    ok = (not restarted and not duplicated and code == 0 and alerts == faults
          and healed + gave_up == faults)
    return {
        "services": f"{count} sleepers + 1 service dying every second (where the reaper and "
                    "spawn faults land), under svscan",
        "faults injected in a row": f"{faults}, in turn at: {', '.join(POINTS)} "
                                    f"({took:.0f} s in all)",
        "alert lines": str(alerts),
        "healed by a re-exec": str(healed),
        "re-exec loop stopped (5 faults within 60 s), resumed by SIGHUP": str(gave_up),
        "sleepers restarted": str(len(restarted)),
        "sleepers with other than one process": str(len(duplicated)),
        "every sleeper answers `d` then `u` afterwards": "yes",
        "svscan exit code": str(code),
        "verdict": "ok" if ok else "FAILED",
    }


def leak_soak(scratch: Path, crashers: int, restarts: int, hups: int) -> dict[str, str]:
    root = scratch / "leak"
    crashing = [service(root, f"c{n:03d}", CRASHER) for n in range(crashers)]
    for n in range(10):
        service(root, f"s{n:02d}", RUN)
    logged = service(root, "logged", RUN)
    service(logged, "log", RUN)
    daemon = Daemon(root)
    wait_for(lambda: pid_of(logged / "log") and pid_of(logged), "all up")
    time.sleep(3)  # a few restarts each: every code path has run once
    before = daemon.usage()
    began = time.monotonic()

    def counted() -> int:
        return sum(_starts(each) for each in crashing)

    start_count = counted()
    samples = [before]
    while counted() - start_count < restarts:
        time.sleep(5)
        procs.reap({})
        samples.append(daemon.usage())
    done = counted() - start_count
    after_restarts = daemon.usage()
    took = time.monotonic() - began
    for each in crashing:
        send(each, b"d")
    wait_for(lambda: not any(pid_of(each) for each in crashing), "crashers down")
    hup_before = daemon.usage()
    daemon.hup()
    time.sleep(SETTLE)
    after_first_hup = daemon.usage()
    for _ in range(hups - 1):
        daemon.hup()
    time.sleep(SETTLE)
    after_hups = daemon.usage()
    code = daemon.stop()
    # Flat: within 10% + 1 MiB of RSS, not one descriptor more. The first SIGHUP is the
    # reference for the others: the first image holds what a fresh start needs once.
    rss_flat = after_restarts[0] <= before[0] * 1.10 + 1024
    fds_flat = after_restarts[1] <= before[1] and after_hups[1] <= after_first_hup[1]
    hup_flat = after_hups[0] <= after_first_hup[0] * 1.10 + 1024
    growth = max(rss for rss, _ in samples) - before[0]
    return {
        "crash loop": f"{crashers} services exiting at once, restarted once a second each "
                      f"(the one-second rule), beside 10 sleepers and 1 logged service",
        "restarts": f"{done:,} in {took:.0f} s",
        "daemon RSS before / after the restarts": f"{before[0]:,} / {after_restarts[0]:,} KiB "
                                                  f"(largest rise meanwhile {growth:,} KiB)",
        "daemon descriptors before / after the restarts": f"{before[1]} / {after_restarts[1]}",
        "SIGHUPs (each waited for)": f"{hups:,}",
        "daemon RSS before / after the first SIGHUP / after the last":
            f"{hup_before[0]:,} / {after_first_hup[0]:,} / {after_hups[0]:,} KiB",
        "daemon descriptors before / after the first SIGHUP / after the last":
            f"{hup_before[1]} / {after_first_hup[1]} / {after_hups[1]}",
        "svscan exit code": str(code),
        "verdict": "ok" if rss_flat and fds_flat and hup_flat and code == 0 else "FAILED",
    }


def _starts(directory: Path) -> int:
    try:
        return len((directory / "starts").read_text())
    except OSError:
        return 0

"""What is measured on a tree once every service is up: clients, control, signals, crashes.

Each probe works on one service of a running tree, whichever supervisor runs it, and sees
only what the kernel shows of the service, so every supervisor is measured alike:

- client wall time (`wall_times`): each of the supervisor's clients, ``svc -h``, ``svok``,
  ``svstat`` of one directory and of all N (or what its own client has instead), timed as
  `benchmarks.timing` times a command, round-robin with the floors (``python -c pass`` of
  our interpreter and ``python3 -c pass`` as PATH finds it) in the same run. They target
  `WALL_SERVICE`, whose ``run`` ignores HUP, so ``svc -h`` kills nothing;
- control latency (`control`): ``down``: from just before the client is spawned until the
  service's ``sleep`` has exited, seen on a pidfd (the kernel wakes us when it exits; no
  polling); ``up``: from just before the client is spawned until a new process, child of the
  supervisor that ran the old one, runs ``sleep`` in the service's directory. Pids are
  allocated in order, so each poll reads only the pids allocated since the last one
  (``/proc/loadavg`` names the last), then the comm and cwd of the new children: a poll
  costs a few tens of microseconds, and one is made every `EXEC_POLL_S`, which is the
  resolution of ``up``;
- signal delivery (`control` too): the service is a plain ``sleep`` whose HUP is left at the
  default action, so it ends the moment HUP is delivered to it: from just before the client
  is spawned until that ``sleep`` has exited (pidfd again). The supervisor then restarts it;
- crash restart (`crash`): the service's ``run`` is replaced (rename) by one that appends
  ``date +%s%N`` to ``./starts`` and exits 1, and its running ``sleep`` is SIGKILLed; for
  `CRASH_WINDOW_S` the supervisor restarts it as it sees fit. Counted: the starts in the
  window, the first one's delay after the kill, and the median time between two starts (the
  script lives about a millisecond, so that is the restart delay). Then ``run`` is put back
  and the service comes up again.

Commands are spaced so that each supervisor is settled: `QUIET_S` after a start before the
next command (daemontools' ``supervise`` sleeps one second after each start and reads no
command meanwhile), `PAUSE_S` between a ``down`` and the ``up`` after it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import timing
from benchmarks.clients import BIN, FLOOR, RUN, python3_on_path
from benchmarks.peers import CHECK, DOWN, SIGNAL, STATUS, STATUS_ALL, UP, Client
from benchmarks.procs import DEFAULT_SIGNALS, SERVICE_COMM, Descendants, Stat, read_stat

EXEC_POLL_S = 0.0002
EVENT_TIMEOUT_S = 15.0
QUIET_S = 1.5
PAUSE_S = 0.5
CRASH_WINDOW_S = 10.0
CRASH_RUN = "#!/bin/sh\ndate +%s%N >>starts\nexit 1\n"
CRASH_STAMPS = "starts"
WALL_OPS = (SIGNAL, CHECK, STATUS, STATUS_ALL)
LATENCY_OPS = (DOWN, UP, SIGNAL)
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
FLOOR_KEY = "floor"

# Which service of the tree each probe uses (the tree has at least three).
WALL_SERVICE, CONTROL_SERVICE, CRASH_SERVICE = 0, 1, 2


def wall_key(client: str, op: str) -> str:
    """Where `Timings` keeps the wall times of `client`'s `op` (client "floor": a floor)."""
    return f"wall/{client}/{op}"


def latency_key(client: str, op: str) -> str:
    """Where `Timings` keeps the latencies of `client`'s `op` (down, up, signal)."""
    return f"latency/{client}/{op}"


@dataclass
class Timings:
    """Milliseconds per `wall_key` or `latency_key`, failed runs per key, and problems."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, key: str, ms: float | None, code: int = 0) -> None:
        if ms is not None:
            self.samples.setdefault(key, []).append(ms)
        if code != 0 or ms is None:
            self.failures[key] = self.failures.get(key, 0) + 1


def floors() -> dict[str, list[str]]:
    """The floors timed with the clients: our interpreter and PATH's ``python3``."""
    found = {FLOOR: [str(BIN / "python"), "-c", "pass"]}
    found.update({bench.label: bench.argv for bench in python3_on_path()})
    return found


def wall_times(clients: tuple[Client, ...], services: list[Path], rounds: int,
               timings: Timings) -> None:
    """Each client's `WALL_OPS` and the floors, round-robin, one warm-up round first."""
    service = services[WALL_SERVICE]
    commands = {wall_key(FLOOR_KEY, label): argv for label, argv in floors().items()}
    for client in clients:
        for op in WALL_OPS:
            argv = client.argv(op, service, services)
            if argv is not None:
                commands[wall_key(client.key, op)] = argv
    samples, failures = timing.round_robin_samples(commands, rounds, warmup=1)
    for key, values in samples.items():
        timings.samples.setdefault(key, []).extend(values)
        if failures[key]:
            timings.failures[key] = timings.failures.get(key, 0) + failures[key]


# --- the kernel's view of one service ----------------------------------------------------


def cwd_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def running_in(service: Path, descendants: Descendants) -> Stat | None:
    """The live ``sleep`` whose working directory is `service`, under the scanner."""
    target = os.path.realpath(service)
    for stat in descendants.scan():
        if stat.comm == SERVICE_COMM and stat.alive and cwd_of(stat.pid) == target:
            return stat
    return None


def age_s(stat: Stat) -> float:
    """Seconds since `stat`'s process started."""
    with open("/proc/uptime") as uptime:
        now = float(uptime.read().split()[0])
    return now - stat.start / TICKS_PER_S


def last_pid() -> int:
    """The pid most recently allocated (the last field of /proc/loadavg)."""
    with open("/proc/loadavg") as loadavg:
        return int(loadavg.read().split()[-1])


PID_MAX = int(Path("/proc/sys/kernel/pid_max").read_text())


def pids_after(since: int, latest: int) -> list[int]:
    """The pids allocated after `since` up to `latest`, in allocation order (they wrap)."""
    if latest >= since:
        return list(range(since + 1, latest + 1))
    return [*range(since + 1, PID_MAX), *range(1, latest + 1)]


def launch(argv: list[str]) -> int:
    """Spawn a client, stdin/stdout/stderr /dev/null; `finish` reaps it."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        return os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions,
                              setsigdef=DEFAULT_SIGNALS, setsigmask=())
    finally:
        os.close(devnull)


def finish(pid: int) -> int:
    """The exit code of client `pid` once it has exited (SIGKILLed if it hangs)."""
    deadline = time.monotonic() + 2 * EVENT_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        time.sleep(0.001)


def wait_exec(service: Path, parent: int, since: int, deadline: float) -> tuple[int, Stat] | None:
    """(perf_counter_ns when seen, stat) of a new child of `parent` running ``sleep`` in
    `service`, among the pids allocated after `since`; None at `deadline` (monotonic)."""
    target = os.path.realpath(service)
    candidates: set[int] = set()
    while time.monotonic() < deadline:
        latest = last_pid()
        for pid in pids_after(since, latest):
            stat = read_stat(pid)
            if stat is not None and stat.ppid == parent:
                candidates.add(pid)
        since = latest
        for pid in sorted(candidates):
            stat = read_stat(pid)
            if stat is None or not stat.alive or stat.ppid != parent:
                candidates.discard(pid)
            elif stat.comm == SERVICE_COMM and cwd_of(pid) == target:
                return time.perf_counter_ns(), stat
        time.sleep(EXEC_POLL_S)
    return None


def timed_exit(argv: list[str], pid: int) -> tuple[float | None, int]:
    """(ms from spawning `argv` until process `pid` has exited, or None; the client's code)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None, 0
    try:
        began = time.perf_counter_ns()
        client = launch(argv)
        ready, _, _ = select.select([pidfd], [], [], EVENT_TIMEOUT_S)
        ended = time.perf_counter_ns()
    finally:
        os.close(pidfd)
    code = finish(client)
    return ((ended - began) / 1e6 if ready else None), code


def timed_exec(argv: list[str], service: Path, parent: int) -> tuple[float | None, int,
                                                                      Stat | None]:
    """(ms from spawning `argv` until the service's new ``sleep`` runs, or None; the
    client's code; the new ``sleep``)."""
    since = last_pid()
    began = time.perf_counter_ns()
    client = launch(argv)
    seen = wait_exec(service, parent, since, time.monotonic() + EVENT_TIMEOUT_S)
    code = finish(client)
    if seen is None:
        return None, code, None
    return (seen[0] - began) / 1e6, code, seen[1]


def settle(stat: Stat) -> None:
    """Wait until `stat`'s process has run `QUIET_S`."""
    time.sleep(max(0.0, QUIET_S - age_s(stat)))


# --- control latency and signal delivery ---------------------------------------------------


def control(client: Client, services: list[Path], descendants: Descendants,
            timings: Timings) -> None:
    """One ``down``, ``up``, ``signal`` (HUP) with `client` on `CONTROL_SERVICE`; then wait
    for the restart that HUP causes. Recorded as ``client/down`` etc. in `timings`."""
    service = services[CONTROL_SERVICE]
    current = running_in(service, descendants)
    if current is None:
        timings.problems.append(f"control: {service.name} is not up before `{client.key}`")
        return
    settle(current)
    parent = current.ppid
    for op in LATENCY_OPS:
        argv = client.argv(op, service, services)
        if argv is None:
            continue
        key = latency_key(client.key, op)
        if op == UP:
            ms, code, new = timed_exec(argv, service, parent)
            timings.add(key, ms, code)
            if new is None:
                timings.problems.append(f"control: `{client.text(op)}` brought no `sleep` up "
                                        f"in {EVENT_TIMEOUT_S:.0f} s")
                return
            current = new
            settle(current)
            continue
        since = last_pid()
        ms, code = timed_exit(argv, current.pid)
        timings.add(key, ms, code)
        if ms is None:
            timings.problems.append(f"control: `{client.text(op)}`: `sleep` still there after "
                                    f"{EVENT_TIMEOUT_S:.0f} s")
            return
        if op == DOWN:
            time.sleep(PAUSE_S)
        else:  # HUP ended it: wait until the supervisor has restarted it
            seen = wait_exec(service, parent, since, time.monotonic() + EVENT_TIMEOUT_S)
            if seen is None:
                timings.problems.append(f"control: {service.name} not restarted within "
                                        f"{EVENT_TIMEOUT_S:.0f} s after HUP")
                return
            settle(seen[1])


# --- crash restart --------------------------------------------------------------------------


@dataclass
class Crash:
    """What `crash` saw: starts in the window, first restart after the kill, median gap."""

    restarts: int | None = None
    first_ms: float | None = None
    interval_ms: float | None = None


def replace(path: Path, text: str) -> None:
    """Write `text` to `path` executable, by rename, so no start sees half a file."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(text)
    fresh.chmod(0o755)
    fresh.replace(path)


def crash(services: list[Path], descendants: Descendants, window_s: float,
          problems: list[str]) -> Crash:
    """Make `CRASH_SERVICE` exit at once on every start, for `window_s`; then restore it."""
    service = services[CRASH_SERVICE]
    result = Crash()
    current = running_in(service, descendants)
    if current is None:
        problems.append(f"crash: {service.name} is not up")
        return result
    settle(current)
    stamps = service / CRASH_STAMPS
    stamps.unlink(missing_ok=True)
    replace(service / "run", CRASH_RUN)
    began = time.time_ns()
    with contextlib.suppress(ProcessLookupError):
        os.kill(current.pid, signal.SIGKILL)
    time.sleep(window_s)
    replace(service / "run", RUN)
    end = began + int(window_s * 1e9)
    try:
        starts = sorted(int(line) for line in stamps.read_text().split() if line.isdigit())
    except OSError:
        starts = []
    starts = [stamp for stamp in starts if began <= stamp <= end]
    result.restarts = len(starts)
    if starts:
        result.first_ms = (starts[0] - began) / 1e6
    if len(starts) > 1:
        result.interval_ms = statistics.median(
            (later - earlier) / 1e6 for earlier, later in itertools.pairwise(starts))
    deadline = time.monotonic() + 2 * EVENT_TIMEOUT_S
    while (back := running_in(service, descendants)) is None:
        if time.monotonic() > deadline:
            problems.append(f"crash: {service.name} not up again {2 * EVENT_TIMEOUT_S:.0f} s "
                            "after its run was put back")
            return result
        time.sleep(0.05)
    settle(back)  # so that what is measured next finds the supervisor settled too
    return result

"""Helpers for integration and interop tests: service directories, the daemon, waiting.

Everything here is real: real directories in tmp_path, the real daemon as a
child process (``python -m supervise.cli``, never the console script name,
which Debian's daemontools shares), real FIFOs read with our own codec.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import trio

from ci_guard import unavailable
from supervise import status

#: How long a test waits for something that should happen "at once" on a loaded machine.
PATIENCE = 15.0


def peer(name: str) -> str:
    """Absolute path of a Debian peer binary; skip (a failure under CI=true) if absent."""
    path = f"/usr/bin/{name}"
    if not os.access(path, os.X_OK):
        unavailable(f"{path} is not installed (apt-get install daemontools runit s6)")
    return path


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (made here), lazily unmounted afterwards.

    Mounting needs root: without it the test skips, a failure under CI=true.
    """
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        unavailable(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


#: How long one of our clients may take before the test fails (loaded machine).
CLIENT_TIMEOUT = 30.0


def client(
    name: str, *args: str | Path, cwd: Path | None = None, timeout: float = CLIENT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run our client `name` (``svc``, ``svstat``, ``svok``) in a fresh interpreter, to the end.

    ``python -m svc.NAME``, never the bare name: Debian's daemontools has
    programs of the same names on PATH.
    """
    return subprocess.run(
        [sys.executable, "-m", f"svc.{name}", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
    )


def timed_svc(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Our ``svc ARGS`` run in `cwd` to its end; the result and the seconds it took."""
    began = time.monotonic()
    result = client("svc", *args, cwd=cwd, timeout=60.0)
    return result, time.monotonic() - began


async def svc_wait(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`timed_svc` in a worker thread, so the test's trio loop keeps running meanwhile."""
    return await trio.to_thread.run_sync(partial(timed_svc, *args, cwd=cwd))


def make_service(root: Path, name: str, run: str, **files: str | None) -> Path:
    """A service directory `root/name` with an executable ``run`` (a /bin/sh script body).

    Keyword arguments add files: ``finish=...`` (made executable), ``down=""``,
    ``timeout_kill="100"`` (underscores become dashes).
    """
    service = root / name
    service.mkdir(parents=True)
    _write_script(service / "run", run)
    for key, text in files.items():
        target = service / key.replace("_", "-")
        if key == "finish":
            _write_script(target, text or "")
        else:
            target.write_text(text or "")
    return service


def _write_script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


#: Our svscan, run as a module (Debian's daemontools has a /usr/bin/svscan of its own).
SVSCAN = [sys.executable, "-m", "supervise.svscan_cli"]


class Daemon:
    """Our supervise daemon on some directories, as a child process of the test."""

    def __init__(
        self, *dirs: Path, cwd: Path | None = None, program: list[str] | None = None,
        env: dict[str, str] | None = None,
    ):
        self.stderr_path = Path(cwd or dirs[0].parent) / f"daemon-{time.monotonic_ns()}.err"
        argv = program or [sys.executable, "-m", "supervise.cli"]
        with open(self.stderr_path, "wb") as output:
            self.process = subprocess.Popen(
                [*argv, *map(str, dirs)], cwd=cwd, stdout=output, stderr=output,
                env=None if env is None else {**os.environ, **env},
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self, timeout: float = PATIENCE) -> int:
        """SIGTERM, then wait; SIGKILL if it does not exit in time (and say so)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"daemon {self.pid} ignored SIGTERM for {timeout} s") from None

    def wait(self, timeout: float = PATIENCE) -> int:
        return self.process.wait(timeout)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)


def own_cgroup() -> Path | None:
    """The directory of this process's cgroup v2 (where a daemon we start puts its
    ``supervise.PID``), or None where there is no cgroup2 hierarchy."""
    from supervise import tree

    with open("/proc/self/cgroup") as mine, open("/proc/self/mountinfo") as mounts:
        own = tree.own_cgroup(mine.read())
        found = None if own is None else tree.locate(own, tree.cgroup2_mounts(mounts.read()))
    return None if found is None else Path(found)


def without_tracking_line(stderr: str) -> str:
    """The daemon's stderr but the one line that says how trees are followed (said at
    every start: `supervise.cgroups.discover`)."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if ": info: tracking each service in " not in line)


def daemon_cgroups(pid: int) -> list[Path]:
    """The cgroups daemon `pid` made (its ``supervise.PID.START`` and what is in it), if any."""
    own = own_cgroup()
    bases = [] if own is None else sorted(own.glob(f"supervise.{pid}.*"))
    if not bases:
        return []
    base = bases[-1]
    return [*(child for child in base.iterdir() if child.is_dir()), base]


def read_status(service: Path) -> status.Status:
    return status.unpack((service / "supervise" / "status").read_bytes())


def read_extra(service: Path) -> status.Extra:
    """The xstatus record; none written means nothing extra (the daemon skips it then)."""
    try:
        data = (service / "supervise" / "xstatus").read_bytes()
    except FileNotFoundError:
        return status.Extra()
    return status.unpack_extra(data)


def supervisor_listening(service: Path) -> bool:
    """What svok checks: can ``supervise/ok`` be opened for writing without blocking?"""
    try:
        fd = os.open(service / "supervise" / "ok", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


def send(service: Path, data: bytes) -> None:
    """Write control bytes in one write, as svc does."""
    fd = os.open(service / "supervise" / "control", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


async def eventually(
    check: Callable[[], object], timeout: float = PATIENCE, what: str = ""
) -> object:
    """Poll `check` until it returns something truthy (and no exception); return that."""
    deadline = trio.current_time() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (OSError, ValueError, AssertionError) as error:
            last = error
        if trio.current_time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}: last error {last!r}")
        await trio.sleep(0.02)


async def started(service: Path, timeout: float = PATIENCE) -> status.Status:
    """Wait until the directory is supervised and ./run is up; its status."""
    def up() -> status.Status | None:
        record = read_status(service)
        return record if record.pid and record.run_state is status.RunState.RUN else None

    result = await eventually(up, timeout, f"{service} up")
    assert isinstance(result, status.Status)
    return result


#: A run script that ignores TERM; `started_ignoring_term` waits until the trap is set.
IGNORE_TERM_RUN = "trap '' TERM; echo > term-ignored; exec sleep 1000"


async def started_ignoring_term(service: Path) -> status.Status:
    """`started` for IGNORE_TERM_RUN: also wait until the shell has set its trap.

    Without this, a TERM sent right after the start can reach the shell
    before ``trap`` ran, and kill it.
    """
    record = await started(service)
    await eventually(lambda: (service / "term-ignored").exists(), what="TERM trap set")
    return record


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, state letter) of every process on the machine."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                fields = stat_file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), fields[0])
    return table


def descendants(root: int | None = None) -> dict[int, str]:
    """pid -> state of every live descendant of `root` (default: this process)."""
    root = os.getpid() if root is None else root
    table = process_table()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, state) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = state
                frontier.append(pid)
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def running(*words: str) -> list[int]:
    """This process's live descendants whose command line holds every one of `words`.

    How a test finds the pid of a client that a worker thread runs to its end.
    """
    return [pid for pid, state in descendants().items()
            if state != "Z" and all(word in cmdline(pid).split() for word in words)]


def watching(pid: int) -> bool:
    """Whether `pid` holds an inotify descriptor and sleeps in select: a waiting client
    (``svc -w``, qm) that made its watch and has looked at the status at least once."""
    with open(f"/proc/{pid}/wchan") as f:
        wchan = f.read()
    if "poll" not in wchan and "select" not in wchan:
        return False
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                return True
        except OSError:
            continue
    return False


async def client_waiting(*words: str) -> int:
    """Wait until the one client running with `words` is asleep on its watch; its pid."""
    def asleep() -> int:
        pids = running(*words)
        return pids[0] if len(pids) == 1 and watching(pids[0]) else 0

    pid = await eventually(asleep, what=f"a client {' '.join(words)} waiting on its watch")
    assert isinstance(pid, int)
    return pid


# --- svscan trees with log pipes (shared by the log and re-adoption tests) ---------------

LOGGER = "exec cat >> ./lines"

#: Writes 1, 2, 3... forever (a short pause every 100 lines); says "end" on TERM.
NUMBERS = (
    "trap 'echo end; exit 0' TERM\n"
    "i=1\n"
    "while :; do\n"
    "  echo $i\n"
    "  i=$((i+1))\n"
    "  case $i in *00) sleep 0.01;; esac\n"
    "done"
)


def scan_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    return root


def with_log(root: Path, name: str, run: str, log_run: str = LOGGER, **files: str) -> Path:
    service = make_service(root, name, run, **files)
    make_service(service, "log", log_run)
    return service


def log_lines(log: Path) -> list[str]:
    path = log / "lines"
    return path.read_text().splitlines() if path.exists() else []


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def idle_cat(pid: int) -> bool:
    """Whether `pid` is ``cat`` asleep in read() on an empty pipe: it holds no line unwritten."""
    with open(f"/proc/{pid}/comm") as f:
        if f.read().strip() != "cat":
            return False
    with open(f"/proc/{pid}/wchan") as f:
        return "pipe_read" in f.read()


async def kill_idle_logger(service: Path, writer: int, logger: int) -> None:
    """SIGKILL `logger` while it holds no line: `writer` paused, the logger asleep on an empty pipe.

    The writer is continued only once the logger is dead. A reader woken by
    SIGKILL still takes what reaches the pipe before it runs (the kernel looks
    for data before it looks for the signal) and dies holding it: continuing
    the writer at once lost a line now and then on a loaded machine.
    """
    send(service, b"p")
    await eventually(lambda: proc_state(writer) == "T", what="writer stopped")
    await eventually(lambda: idle_cat(logger), what="logger idle on an empty pipe")
    os.kill(logger, signal.SIGKILL)
    await eventually(lambda: not pid_alive(logger), what="logger dead")
    send(service, b"c")


async def new_pid(service: Path, old: int) -> int:
    def fresh() -> int:
        record = read_status(service)
        return record.pid if record.pid not in (0, old) else 0

    pid = await eventually(fresh, what=f"{service} up again")
    assert isinstance(pid, int)
    return pid


def memory_kib(pid: int) -> dict[str, int]:
    """Process `pid`'s memory from ``/proc/PID/smaps_rollup``, in KiB by field (``Rss``,
    ``Pss``, ``Anonymous``...); OSError if it is gone.

    PSS moves when other processes sharing the same pages start or exit; ``Rss`` and
    ``Anonymous`` (the heap) are what grows with a leak.
    """
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, colon, rest = line.partition(":")
            words = rest.split()
            if colon and len(words) == 2 and words[1] == "kB":
                values[name] = int(words[0])
    return values


def numbers_break(log: Path) -> str | None:
    """Where the NUMBERS log stops being 1, 2, 3... once each, then "end"; None if it does not.

    The answer names the first line at fault with its neighbours, so a failure
    tells a lost line from a repeated one or from a restarted writer.
    """
    lines = log_lines(log)
    if lines[-1:] != ["end"]:
        return f"last lines {lines[-3:]}, not ending in 'end'"
    for index, line in enumerate(lines[:-1]):
        if line != str(index + 1):
            return f"line {index + 1} is {line!r}; around it: {lines[max(0, index - 3):index + 3]}"
    return None


def fd_targets(pid: int) -> set[str]:
    """What the descriptors of `pid` point to (``readlink /proc/PID/fd/N``)."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return found


def sockets(pid: int) -> set[str]:
    """The sockets `pid` holds, as ``socket:[INODE]`` (trio's wakeup pair: new after an exec)."""
    return {target for target in fd_targets(pid) if target.startswith("socket:")}


async def event_loop_running(pid: int) -> set[str]:
    """Wait until the daemon `pid` runs trio; its sockets (trio's wakeup pair).

    A daemon starts its plain services with the standard library first
    (`supervise.prestart`) and loads trio only then: until it holds a socket,
    nothing it handed over is watched yet, and a SIGHUP waits for it.
    """
    await eventually(lambda: bool(sockets(pid)), what="the daemon's event loop")
    return sockets(pid)

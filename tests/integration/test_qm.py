"""qm-stop and qm-start on a qmail-shaped tree run by our daemon.

The tree is ``SVDIR/qmail-smtpd``, ``qmail-pop3d`` (intake), ``qmail-send``,
each with a ``log/``; our daemon has no svscan, so every directory, the log/
ones included, is given to it by name. The run scripts are /bin/sh stand-ins
that append one line per event ("smtpd up", "send down", "send log down") to
one shared events file, so the order of the lines is the order of the events.

Intake accepts work while up: it writes a numbered message in its own tmp/,
renames it into the shared queue/ and lists it in accepted. The sender
delivers queue/ to delivered/ through a helper process (qmail-send's
qmail-lspawn, say): the helper copies the message into delivered/ (by rename)
and only then removes it from queue/, so a delivery killed half-way is made
again, never lost. On TERM the sender waits for its helper (the delivery in
flight), then says "send down"; a helper that gets TERM itself says so ("helper
TERM"), which must never happen: ``d`` signals the main pid only.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import trio

from support import Daemon, eventually, pid_alive, read_status, send, started

BIN = Path(sys.executable).parent
SRC = Path(__file__).resolve().parents[2] / "src"
#: A loose bound for a qm run that has nothing slow to wait for (a loaded machine).
QUICK = 10.0
NOBODY = 65534

INTAKE_RUN = """EV='{events}'; Q='{queue}'; T='{tmp}'; ACC='{accepted}'; TAG='{tag}'
trap 'echo "$TAG down" >> "$EV"; exit 0' TERM
echo "$TAG up" >> "$EV"
n=0
while :; do
  n=$((n + 1))
  name="$TAG-$$-$n"
  printf 'message %s\\ncomplete\\n' "$name" > "$T/$name"
  mv "$T/$name" "$Q/$name"
  echo "$name" >> "$ACC"
  sleep 0.1
done"""

SENDER_RUN = """EV='{events}'; Q='{queue}'; DL='{delivered}'
stop_sending() {{
  wait
  echo "send down" >> "$EV"
  exit 0
}}
deliver() {{
  sh -c 'trap "echo helper TERM >> \\"$4\\"" TERM
    sleep 0.3
    cp "$1/$3" "$2/.tmp.$3" && mv "$2/.tmp.$3" "$2/$3" && rm -f "$1/$3"' \\
    helper "$Q" "$DL" "$1" "$EV" &
  wait $!
}}
{trap}
echo "send up" >> "$EV"
{ready}
while :; do
  for f in "$Q"/*; do
    [ -e "$f" ] || continue
    deliver "${{f##*/}}"
  done
  sleep 0.1
done"""

LOG_RUN = """EV='{events}'; TAG='{tag}'
trap 'echo "$TAG down" >> "$EV"; exit 0' TERM
echo "$TAG up" >> "$EV"
while :; do sleep 0.2; done"""


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


class Tree:
    """A qmail-shaped SVDIR; `dirs` maps an event tag ("smtpd", "send log") to its directory."""

    def __init__(self, root: Path, *, sender_ignores_term: bool = False,
                 sender_notifies: bool = False, intake: tuple[str, ...] = ("smtpd", "pop3d")
                 ) -> None:
        self.svdir = root / "service"
        self.events_path = root / "events"
        self.queue = root / "queue"
        self.delivered = root / "delivered"
        self.accepted_path = root / "accepted"
        for directory in (self.svdir, self.queue, self.delivered):
            directory.mkdir()
        self.events_path.touch()
        self.accepted_path.touch()
        self.dirs: dict[str, Path] = {}
        for tag in intake:
            service = self._service(f"qmail-{tag}", tag)
            (service / "tmp").mkdir()
            _script(service / "run", INTAKE_RUN.format(
                events=self.events_path, queue=self.queue, tmp=service / "tmp",
                accepted=self.accepted_path, tag=tag))
        service = self._service("qmail-send", "send")
        trap = "trap '' TERM" if sender_ignores_term else "trap stop_sending TERM"
        ready = ""
        if sender_notifies:
            (service / "notification-fd").write_text("3\n")
            ready = 'sleep 1; echo "send ready" >> "$EV"; echo >&3; exec 3>&-'
        _script(service / "run", SENDER_RUN.format(
            events=self.events_path, queue=self.queue, delivered=self.delivered, trap=trap,
            ready=ready))

    def _service(self, name: str, tag: str) -> Path:
        service = self.svdir / name
        (service / "log").mkdir(parents=True)
        _script(service / "log" / "run", LOG_RUN.format(events=self.events_path,
                                                         tag=f"{tag} log"))
        self.dirs[tag] = service
        self.dirs[f"{tag} log"] = service / "log"
        return service

    def all_dirs(self, *without: str) -> list[Path]:
        return [path for tag, path in self.dirs.items() if tag not in without]

    def events(self) -> list[str]:
        return self.events_path.read_text().splitlines()

    def accepted(self) -> set[str]:
        return set(self.accepted_path.read_text().split())


async def running(tree: Tree, *tags: str) -> dict[str, int]:
    """Wait until each of `tags` is up under its supervisor and its script said "up"; pids."""
    pids = {}
    for tag in tags:
        pids[tag] = (await started(tree.dirs[tag])).pid
        await eventually(lambda tag=tag: f"{tag} up" in tree.events(), what=f"{tag} up")
    return pids


async def supervised(tree: Tree, start_daemon: Callable[..., Daemon], *without: str) -> Daemon:
    """Our daemon on every directory of `tree` but `without`, all of them running."""
    daemon = start_daemon(*tree.all_dirs(*without))
    await running(tree, *(tag for tag in tree.dirs if tag not in without))
    return daemon


def run_qm(prog: str, *args: str | Path, env: dict[str, str] | None = None,
           timeout: float = 60.0) -> tuple[subprocess.CompletedProcess[str], float]:
    """The console script `prog` (qm-stop, qm-start) to its end; the result and its seconds."""
    began = time.monotonic()
    result = subprocess.run([str(BIN / prog), *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, check=False, env=env)
    return result, time.monotonic() - began


async def qm(prog: str, *args: str | Path, env: dict[str, str] | None = None
             ) -> tuple[subprocess.CompletedProcess[str], float]:
    """`run_qm` in a worker thread, so that the trio loop keeps running."""
    return await trio.to_thread.run_sync(partial(run_qm, prog, *args, env=env))


async def stop_then_start(tree: Tree) -> list[str]:
    """qm-stop, then qm-start (both must succeed quietly); the events qm-start caused."""
    stopped, _ = await qm("qm-stop", tree.svdir)
    assert stopped.returncode == 0, stopped.stderr
    mark = len(tree.events())
    result, _ = await qm("qm-start", tree.svdir)
    assert (result.returncode, result.stderr) == (0, "")
    await running(tree, *tree.dirs)
    return tree.events()[mark:]


def spawn(prog: str, *args: str | Path, stderr_path: Path) -> subprocess.Popen[bytes]:
    """The console script `prog` started, its stderr going to `stderr_path`; the caller
    kills (if need be) and reaps it."""
    with open(stderr_path, "wb") as stderr:
        return subprocess.Popen([str(BIN / prog), *map(str, args)], stdout=subprocess.DEVNULL,
                                stderr=stderr)


def end(process: subprocess.Popen[bytes]) -> None:
    """Kill `process` by pid if it is still running, and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait()


def down(service: Path) -> bool:
    record = read_status(service)
    return record.pid == 0


def index(events: list[str], line: str) -> int:
    assert events.count(line) == 1, f"{line!r} not exactly once in {events}"
    return events.index(line)


def check_nothing_lost(tree: Tree) -> None:
    """Every accepted message is in queue/ or delivered/, once, whole; nothing else is there."""
    queued = {path.name for path in tree.queue.iterdir()}
    delivered = {path.name for path in tree.delivered.iterdir()}
    assert not queued & delivered, f"delivered and still queued: {queued & delivered}"
    assert tree.accepted() <= queued | delivered, (
        f"accepted and lost: {tree.accepted() - queued - delivered}")
    for name in queued | delivered:
        assert not name.startswith("."), f"half-made delivery left: {name}"
        where = tree.queue if name in queued else tree.delivered
        assert (where / name).read_text() == f"message {name}\ncomplete\n", name


async def test_qm_stop_stops_intake_then_sender_then_logs(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """qm-stop: intake down first, then qmail-send (after its delivery in flight), then the
    logs; no accepted message is lost or half-written, every service is down, exit 0."""
    tree = Tree(tmp_path)
    await supervised(tree, start_daemon)
    await eventually(lambda: len(list(tree.delivered.iterdir())) >= 3, what="3 deliveries")
    mark = len(tree.events())

    result, _ = await qm("qm-stop", tree.svdir)

    assert (result.returncode, result.stderr) == (0, "")
    events = tree.events()[mark:]
    send_down = index(events, "send down")
    for intake in ("smtpd down", "pop3d down"):
        assert index(events, intake) < send_down, events
    for log in ("smtpd log down", "pop3d log down", "send log down"):
        assert index(events, log) > send_down, events
    assert "helper TERM" not in tree.events(), "d signalled qmail-send's helper"
    for tag, service in tree.dirs.items():
        assert read_status(service).pid == 0, f"{tag} still up"
    assert tree.accepted(), "intake accepted nothing"
    check_nothing_lost(tree)
    before = ({p.name for p in tree.queue.iterdir()}, {p.name for p in tree.delivered.iterdir()})
    await trio.sleep(0.5)
    after = ({p.name for p in tree.queue.iterdir()}, {p.name for p in tree.delivered.iterdir()})
    assert before == after, "something still moves mail after qm-stop returned"


async def test_qm_start_starts_logs_then_sender_then_intake(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """qm-start after qm-stop: every log up before qmail-send, qmail-send up before intake."""
    tree = Tree(tmp_path)
    await supervised(tree, start_daemon)
    events = await stop_then_start(tree)
    send_up = index(events, "send up")
    for log in ("smtpd log up", "pop3d log up", "send log up"):
        assert index(events, log) < send_up, events
    for intake in ("smtpd up", "pop3d up"):
        assert index(events, intake) > send_up, events
    stamp = {}
    for tag, service in tree.dirs.items():
        record = read_status(service)
        stamp[tag] = (record.stamp.seconds, record.stamp.nanoseconds)
    assert max(stamp["smtpd log"], stamp["pop3d log"], stamp["send log"]) <= stamp["send"]
    assert stamp["send"] <= min(stamp["smtpd"], stamp["pop3d"])


async def test_keep_logs_leaves_the_logs_up(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """--keep-logs stops intake and qmail-send only (-v says what it sent); a later plain
    qm-stop then stops the logs alone."""
    tree = Tree(tmp_path)
    await supervised(tree, start_daemon)
    logs = {tag: read_status(tree.dirs[tag]).pid for tag in tree.dirs if tag.endswith("log")}
    mark = len(tree.events())

    result, _ = await qm("qm-stop", "--keep-logs", "-v", tree.svdir)

    assert result.returncode == 0, result.stderr
    assert f"qm-stop: qmail-send: sent d to {tree.dirs['send']}" in result.stderr
    assert "/log" not in result.stderr and "logs:" not in result.stderr
    for tag in ("smtpd", "pop3d", "send"):
        assert down(tree.dirs[tag]), tag
    for tag, pid in logs.items():
        assert read_status(tree.dirs[tag]).pid == pid and pid_alive(pid), f"{tag} was stopped"
    assert not [line for line in tree.events()[mark:] if "log" in line]

    again, _ = await qm("qm-stop", tree.svdir)

    assert again.returncode == 0, again.stderr
    logged = sorted(line for line in tree.events()[mark:] if "log" in line)
    assert logged == ["pop3d log down", "send log down", "smtpd log down"]
    for tag in logs:
        assert down(tree.dirs[tag]), tag


async def test_deadline_kills_a_sender_that_ignores_term(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """-t 2 with a qmail-send that ignores TERM: back within the deadline (loosely), exit 1,
    qmail-send named as killed and the delivery said to be made again; it is gone, and the
    logs got their d anyway."""
    tree = Tree(tmp_path, sender_ignores_term=True)
    await supervised(tree, start_daemon)
    sender = read_status(tree.dirs["send"]).pid

    result, seconds = await qm("qm-stop", "-t", "2", tree.svdir)

    assert result.returncode == 1, result.stderr
    assert 1.5 < seconds < 15, seconds
    assert f"qm-stop: warning: deadline: killed {tree.dirs['send']} (up" in result.stderr
    assert "made again" in result.stderr
    await eventually(lambda: not pid_alive(sender), what="qmail-send killed")
    assert "send down" not in tree.events()
    for tag in ("smtpd", "pop3d", "send", "smtpd log", "send log"):
        await eventually(partial(down, tree.dirs[tag]), what=f"{tag} down")


async def test_qm_start_waits_for_a_sender_with_notification_fd_to_be_ready(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """qm-start: a qmail-send with a notification-fd must be ready (1 s after it is up here)
    before the intake services are started."""
    tree = Tree(tmp_path, sender_notifies=True)
    await supervised(tree, start_daemon)
    events = await stop_then_start(tree)
    ready = index(events, "send ready")
    assert index(events, "send up") < ready
    for intake in ("smtpd up", "pop3d up"):
        assert index(events, intake) > ready, events


async def test_progress_names_what_is_still_up(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """Without -t, qm-stop waits for a qmail-send that ignores TERM, saying every few seconds
    that it is still up; once it is gone (killed by hand) qm-stop ends with 0."""
    tree = Tree(tmp_path, sender_ignores_term=True)
    await supervised(tree, start_daemon)
    stderr_path = tmp_path / "qm-stop.err"
    process = spawn("qm-stop", tree.svdir, stderr_path=stderr_path)
    try:
        line = f"qm-stop: still waiting for {tree.dirs['send']}: up (pid "
        await eventually(lambda: line in stderr_path.read_text(), timeout=20,
                         what="a progress line")
        assert process.poll() is None, "qm-stop gave up without -t"
        assert down(tree.dirs["smtpd"]) and not down(tree.dirs["send log"])
        send(tree.dirs["send"], b"k")
        code = await trio.to_thread.run_sync(partial(process.wait, 60))
    finally:
        end(process)
    assert code == 0, stderr_path.read_text()
    for tag, service in tree.dirs.items():
        assert down(service), tag


async def test_second_stop_finds_everything_down(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """qm-stop twice: the second (SVDIR from the environment) has nothing to do: exit 0 at once,
    no event."""
    tree = Tree(tmp_path)
    await supervised(tree, start_daemon)
    first, _ = await qm("qm-stop", tree.svdir)
    assert first.returncode == 0, first.stderr
    mark = len(tree.events())

    second, seconds = await qm("qm-stop", env={**os.environ, "SVDIR": str(tree.svdir)})

    assert (second.returncode, second.stderr) == (0, "")
    assert seconds < QUICK
    assert tree.events()[mark:] == []


async def test_directory_without_supervisor_is_warned_about(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """qmail-pop3d (and its log) not supervised: svc's "unable to control" warning for each,
    under qm-stop's own name (not ``svc:``), exit 0, the others stopped."""
    tree = Tree(tmp_path)
    await supervised(tree, start_daemon, "pop3d", "pop3d log")

    result, seconds = await qm("qm-stop", tree.svdir)

    assert result.returncode == 0, result.stderr
    assert seconds < 30
    for tag in ("pop3d", "pop3d log"):
        assert f"qm-stop: warning: unable to control {tree.dirs[tag]}: " in result.stderr
    assert "svc:" not in result.stderr
    assert result.stderr.count("unable to control") == 2, result.stderr
    for tag in ("smtpd", "send", "smtpd log", "send log"):
        assert down(tree.dirs[tag]), tag
    assert "send down" in tree.events()


async def test_second_run_waits_for_the_lock(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """While SVDIR/.qm-lock is held, qm-stop says it waits and stops nothing; released, it
    goes on and exits 0."""
    tree = Tree(tmp_path)
    await supervised(tree, start_daemon)
    smtpd = read_status(tree.dirs["smtpd"]).pid
    lock = os.open(tree.svdir / ".qm-lock", os.O_WRONLY | os.O_CREAT, 0o600)
    stderr_path = tmp_path / "qm-stop.err"
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        process = spawn("qm-stop", tree.svdir, stderr_path=stderr_path)
        try:
            await eventually(lambda: "waiting for" in stderr_path.read_text(),
                             what="qm-stop waiting")
            await trio.sleep(1.0)
            assert process.poll() is None, "qm-stop did not wait for the lock"
            assert read_status(tree.dirs["smtpd"]).pid == smtpd and pid_alive(smtpd)
            assert "smtpd down" not in tree.events()
            fcntl.flock(lock, fcntl.LOCK_UN)
            code = await trio.to_thread.run_sync(partial(process.wait, 60))
        finally:
            end(process)
    finally:
        os.close(lock)
    text = stderr_path.read_text()
    assert code == 0, text
    assert f"qm-stop: waiting for {tree.svdir}/.qm-lock: another qm-stop or qm-start is running" \
        in text
    for tag, service in tree.dirs.items():
        assert down(service), tag


async def test_deadline_also_bounds_the_wait_for_the_lock(tmp_path: Path) -> None:
    """-t N promises a return within N seconds: a lock held by a hung run must not keep
    qm-stop -t 2 waiting past it (it ends, not with 0, within a loose bound)."""
    svdir = tmp_path / "service"
    svdir.mkdir()
    lock = os.open(svdir / ".qm-lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        process = spawn("qm-stop", "-t", "2", svdir, stderr_path=tmp_path / "qm-stop.err")
        try:
            code = await trio.to_thread.run_sync(partial(process.wait, 10))
        except subprocess.TimeoutExpired:
            code = None
        finally:
            end(process)
    finally:
        os.close(lock)
    assert code is not None, "qm-stop -t 2 still waiting for the lock after 10 s"
    assert code != 0, (tmp_path / "qm-stop.err").read_text()


async def test_skiplock_as_root_ignores_the_lock(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    """--skiplock as root: a held lock does not hold qm-stop up."""
    assert os.geteuid() == 0, "these tests run as root"
    tree = Tree(tmp_path)
    await supervised(tree, start_daemon)
    lock = os.open(tree.svdir / ".qm-lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result, _ = await qm("qm-stop", "--skiplock", tree.svdir)
    finally:
        os.close(lock)
    assert (result.returncode, result.stderr) == (0, "")
    for tag, service in tree.dirs.items():
        assert down(service), tag


def _become_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@pytest.mark.parametrize("prog", ["qm-stop", "qm-start"])
def test_skiplock_refused_to_others_than_root(tmp_path: Path, prog: str) -> None:
    """--skiplock as nobody: exit 100 with the root-only message, no lock file touched.

    Debian's python3 with PYTHONPATH=src: qm needs nothing but the standard library, and
    the venv's interpreter lives under /root, which nobody cannot read.
    """
    svdir = tmp_path / "service"
    svdir.mkdir()
    code = ("import sys; from svc import qm;"
            " sys.exit((qm.stop if sys.argv[1] == 'qm-stop' else qm.start)(sys.argv[2:]))")
    result = subprocess.run(
        ["/usr/bin/python3", "-c", code, prog, "--skiplock", str(svdir)],
        capture_output=True, text=True, timeout=30, check=False, cwd="/",
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=_become_nobody,
    )
    assert (result.returncode, result.stderr) == (
        100, f"{prog}: fatal: --skiplock ignores the administration lock: only root may use it\n")
    assert not (svdir / ".qm-lock").exists()


@pytest.mark.parametrize("argv", [
    ["qm-stop", "-t", "soon"],
    ["qm-stop", "-t"],
    ["qm-stop", "-t", "-1"],
    ["qm-stop", "--timeout=2s"],
    ["qm-stop", "--bogus"],
    ["qm-stop", "-x"],
    ["qm-stop", "one", "two"],
    ["qm-start", "--keep-logs"],
    ["qm-start", "--nope"],
])
def test_usage_errors_exit_100(tmp_path: Path, argv: list[str]) -> None:
    """A bad -t, an unknown option, two directories, --keep-logs to qm-start: usage, exit 100,
    before anything is touched."""
    prog, *args = argv
    result = subprocess.run([str(BIN / prog), *args, str(tmp_path)], capture_output=True,
                            text=True, timeout=30, check=False, cwd=tmp_path)
    assert result.returncode == 100, result.stderr
    assert result.stderr.startswith(f"{prog}: usage: {prog} [-t seconds"), result.stderr
    assert not (tmp_path / ".qm-lock").exists()


def test_qm_start_usage_does_not_offer_keep_logs(tmp_path: Path) -> None:
    """qm-start refuses --keep-logs, so its usage line must not offer it (qm-stop's does)."""
    stop = subprocess.run([str(BIN / "qm-stop"), "--nope"], capture_output=True, text=True,
                          timeout=30, check=False, cwd=tmp_path)
    start = subprocess.run([str(BIN / "qm-start"), "--nope"], capture_output=True, text=True,
                           timeout=30, check=False, cwd=tmp_path)
    assert (stop.returncode, start.returncode) == (100, 100)
    assert "[--keep-logs]" in stop.stderr
    assert "--keep-logs" not in start.stderr, start.stderr


@pytest.mark.parametrize("args", [
    ["-t5"], ["--timeout=5"], ["--timeout", "5"], ["-t", "0", "-v"], ["--skiplock", "--"],
])
@pytest.mark.parametrize("prog", ["qm-stop", "qm-start"])
def test_option_forms_accepted(tmp_path: Path, prog: str, args: list[str]) -> None:
    """Every spelling of -t, -v, --skiplock (root) and ``--`` is accepted: on a SVDIR with no
    qmail service there is nothing to do, exit 0."""
    result = subprocess.run([str(BIN / prog), *args, str(tmp_path)], capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


def test_python_m_runs_qm_stop_and_missing_svdir_is_111(tmp_path: Path) -> None:
    """``python -m svc.qm`` is qm-stop; an SVDIR that does not exist is a system error, 111."""
    missing = tmp_path / "nowhere"
    result = subprocess.run([sys.executable, "-m", "svc.qm", str(missing)], capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 111, result.stderr
    assert result.stderr.startswith("qm-stop: fatal: unable to "), result.stderr
    assert str(missing) in result.stderr

"""A service is its whole process tree (issue 15): counted, shown, drained, waited for.

Every test runs twice: with a cgroup per service (this machine lets the daemon create
cgroups below its own) and with cgroups disabled (``SUPERVISE_CGROUPS=0``), where the
tree is the session of ./run. What the session cannot see (a process that calls
``setsid``) is tested as the documented limit it is. Every process a test leaves is
killed by pid, and every cgroup the daemon made is gone after it (conftest checks).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio

from ci_guard import unavailable
from supervise import cgroups, tree
from support import (
    Daemon,
    client,
    daemon_cgroups,
    eventually,
    make_service,
    own_cgroup,
    pid_alive,
    read_status,
    scan_root,
    send,
    started,
    supervisor_listening,
    svc_wait,
    with_log,
)
from svc import qm

#: ./run forks a background child and a grandchild (both ignore TERM), then execs: three
#: processes.
FAMILY_RUN = """sh -c 'trap "" TERM; sleep 1001 & wait' &
echo > forked
exec sleep 1000"""

#: The same, where the child leaves the session (setsid(1): no group leader, no fork).
ESCAPE_RUN = """setsid sleep 1002 &
echo > forked
exec sleep 1000"""


@pytest.fixture(params=["cgroup", "session"])
def tracking(request: pytest.FixtureRequest) -> str:
    """How the daemon follows trees; the cgroup run needs a writable cgroup2 here."""
    if request.param == "cgroup":
        need_cgroups()
    return str(request.param)


def need_cgroups() -> None:
    own = own_cgroup()
    if own is None or not os.access(own / "cgroup.procs", os.W_OK):
        unavailable("a cgroup2 hierarchy the daemon may create cgroups in")


@pytest.fixture
def daemon_env(tracking: str) -> dict[str, str]:
    env = dict(os.environ)
    if tracking == "session":
        env[cgroups.SETTING] = "0"
    else:
        env[cgroups.SETTING] = "1"
    return env


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids a test saw in a tree: each is killed (SIGKILL, by pid) after the test."""
    pids: list[int] = []
    yield pids
    kill_all(pids)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def svstat(*args: str | Path) -> str:
    return client("svstat", *map(str, args)).stdout


def fields(service: Path, names: str) -> list[str]:
    return svstat("-o", names, service).split()


def members(service: Path) -> list[int]:
    followed = tree.read(str(service / "supervise"))
    assert followed is not None, "supervise/tree names the tree"
    return tree.members(*followed) or []


async def family(service: Path, count: int) -> list[int]:
    """Wait until ./run has forked and its tree holds `count` processes; their pids."""
    await started(service)
    await eventually(lambda: (service / "forked").exists(), what="the fork")
    await eventually(lambda: len(members(service)) == count, what=f"{count} in the tree")
    return members(service)


async def test_tree_counted_shown_and_left_after_down(
    tmp_path: Path, start_daemon: Callable[..., Daemon], tracking: str,
    daemon_env: dict[str, str], leftovers: list[int],
) -> None:
    """3 processes while up; after d the main is gone and svstat says 2 are left (not
    killed: daemontools' d signals the main pid only); the dump lists the tree."""
    service = make_service(tmp_path, "svc", FAMILY_RUN)
    daemon = start_daemon(service, env=daemon_env)
    pids = await family(service, 3)
    leftovers.extend(pids)
    assert fields(service, "tree,processes,left") == [tracking, "3", "0"]
    record = json.loads(svstat("--json", service))
    memory, cpu = tree.usage(*tree.read(str(service / "supervise")) or ("", ""))
    if tracking == "cgroup":
        assert isinstance(record["cpuusec"], int) and cpu is not None
        assert (record["memory"] is None) == (memory is None)
    else:
        assert (record["cpuusec"], record["memory"]) == (None, None)
    main = read_status(service).pid
    send(service, b"d")
    await eventually(lambda: not pid_alive(main), what="main pid gone")
    await eventually(lambda: read_status(service).pid == 0, what="down")
    assert svstat(service).endswith(", killed by SIGTERM, 2 processes left\n")
    assert fields(service, "processes,left") == ["2", "2"]
    assert sorted(members(service)) == sorted(pid for pid in pids if pid != main)
    daemon.signal(signal.SIGUSR1)
    await eventually(lambda: f"svc: tree ({tracking} " in daemon.stderr(), what="the dump")
    assert "tree (" in daemon.stderr() and ": 2 processes" in daemon.stderr()
    kill_all(leftovers)
    await eventually(lambda: fields(service, "left") == ["0"], what="the tree empty")
    assert ", processes left" not in svstat(service)


async def test_kill_leftovers_drains_within_timeout_kill(
    tmp_path: Path, start_daemon: Callable[..., Daemon], daemon_env: dict[str, str],
    leftovers: list[int],
) -> None:
    """kill-leftovers: after d, the leftovers (they ignore TERM) are gone within
    timeout-kill, and svc -wE returns once they are."""
    service = make_service(tmp_path, "svc", FAMILY_RUN, kill_leftovers="", timeout_kill="300")
    start_daemon(service, env=daemon_env)
    leftovers.extend(await family(service, 3))
    result, took = await svc_wait("-d", "-wE", "-T", "10000", str(service), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [pid for pid in leftovers if pid_alive(pid)] == []
    assert took < 5.0
    assert fields(service, "processes") == ["0"]


@pytest.mark.parametrize("mixed", [True, False], ids=["kill-leftovers", "default"])
async def test_restart_waits_for_the_tree_only_when_asked(
    tmp_path: Path, start_daemon: Callable[..., Daemon], tracking: str,
    daemon_env: dict[str, str], leftovers: list[int], mixed: bool,
) -> None:
    """./run killed while wanted up: with kill-leftovers the next start comes once the old
    tree is gone; by default (qmail-smtpd's case) at once, beside what is left."""
    files = {"kill_leftovers": "", "timeout_kill": "300"} if mixed else {}
    service = make_service(tmp_path, "svc", FAMILY_RUN, **files)
    start_daemon(service, env=daemon_env)
    pids = await family(service, 3)
    leftovers.extend(pids)
    main = read_status(service).pid
    (service / "forked").unlink()
    send(service, b"k")
    await eventually(lambda: read_status(service).pid not in (0, main), what="restarted")
    old = [pid for pid in pids if pid != main]
    if mixed:
        assert [pid for pid in old if pid_alive(pid)] == [], "started before the tree emptied"
    else:
        assert all(pid_alive(pid) for pid in old), "the default kills nothing"
    await eventually(lambda: (service / "forked").exists(), what="the new fork")
    # The new tree's 3 (its sleep 1001 may not be forked yet when `forked` appears), and in
    # a cgroup the old ones left beside them by default: all are the fixture's to kill.
    whole = 3 + (len(old) if tracking == "cgroup" and not mixed else 0)
    await eventually(lambda: len(members(service)) == whole, what=f"{whole} in the tree")
    leftovers.extend(members(service))
    send(service, b"d")


async def test_a_child_that_leaves_the_session(
    tmp_path: Path, start_daemon: Callable[..., Daemon], tracking: str,
    daemon_env: dict[str, str], leftovers: list[int],
) -> None:
    """setsid: a cgroup still holds the child, which is counted and drained; a session
    does not (the fallback's documented limit): it is neither counted nor signalled."""
    service = make_service(tmp_path, "svc", ESCAPE_RUN, kill_leftovers="", timeout_kill="300")
    start_daemon(service, env=daemon_env)
    await started(service)
    await eventually(lambda: (service / "forked").exists(), what="the fork")
    escapee = await eventually(lambda: _pid_of("sleep 1002", service), what="the escapee")
    assert isinstance(escapee, int)
    leftovers.append(escapee)
    expected = 2 if tracking == "cgroup" else 1
    await eventually(lambda: len(members(service)) == expected, what=f"{expected} counted")
    result, _ = await svc_wait("-d", "-wE", "-T", "10000", str(service), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    if tracking == "cgroup":
        await eventually(lambda: not pid_alive(escapee), what="the escapee drained")
    else:
        assert pid_alive(escapee), "a session cannot follow a child that left it"


def _pid_of(command: str, service: Path) -> int | None:
    """The pid whose command line is `command` and whose cwd is `service`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            line = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").strip()
            if line == command.encode() and os.readlink(f"/proc/{entry}/cwd") == str(service):
                return int(entry)
        except OSError:
            continue
    return None


async def test_service_and_logger_each_in_a_cgroup_removed_when_forgotten(
    tmp_path: Path, start_svscan: Callable[..., Daemon], tracking: str,
    daemon_env: dict[str, str],
) -> None:
    """svscan: a cgroup for the service and one for its logger, both below the daemon's
    own subtree; moved out of the root, the service is forgotten and its cgroups go
    while the daemon runs on. With sessions, no cgroup at all."""
    root = scan_root(tmp_path)
    service = with_log(root, "web", "exec sleep 1000")
    daemon = start_svscan(root, env=daemon_env)
    await started(service)
    await started(service / "log")
    followed = [tree.read(str(where / "supervise")) for where in (service, service / "log")]
    made = daemon_cgroups(daemon.pid)
    if tracking == "session":
        assert [kind for kind, _ in filter(None, followed)] == ["session", "session"]
        assert made == []
        await eventually(lambda: "tracking each service in its session: cgroups disabled"
                         in daemon.stderr(), what="which tracking, said once")
        return
    paths = [Path(where) for _, where in filter(None, followed)]
    assert len(set(paths)) == 2 and sorted(paths) == sorted(made[:-1])
    assert all(path.parent == made[-1] for path in paths)
    await eventually(lambda: f"tracking each service in a cgroup below {made[-1]}"
                     in daemon.stderr(), what="which tracking, said once")
    os.rename(service, tmp_path / "web-moved")
    await eventually(lambda: not any(path.exists() for path in paths), what="cgroups gone")
    assert daemon_cgroups(daemon.pid) == [made[-1]], "the daemon's own stays while it runs"
    assert daemon.process.poll() is None


async def test_a_taken_back_run_keeps_its_tree(
    tmp_path: Path, start_daemon: Callable[..., Daemon], tracking: str,
    daemon_env: dict[str, str], leftovers: list[int],
) -> None:
    """``kill -9`` of the daemon, then a new one: the ./run it takes back is followed as one
    of its own starts. Its family is moved out of the dead daemon's cgroup into the new
    daemon's (the old one removed), or followed by its session; the dump shows it, and
    kill-leftovers drains it when ./run ends."""
    service = make_service(tmp_path, "svc", FAMILY_RUN, kill_leftovers="", timeout_kill="300")
    first = start_daemon(service, env=daemon_env)
    pids = await family(service, 3)
    leftovers.extend(pids)
    main = read_status(service).pid
    dead = daemon_cgroups(first.pid)
    first.process.kill()
    first.process.wait()
    second = start_daemon(service, env=daemon_env)
    await eventually(lambda: supervisor_listening(service), what="taken back")
    assert f"run (pid {main}) still runs" in second.stderr()
    assert read_status(service).pid == main
    assert fields(service, "tree,processes") == [tracking, "3"]
    assert sorted(members(service)) == sorted(pids)
    if tracking == "cgroup":
        assert dead and not any(where.exists() for where in dead), "the dead daemon's cgroups"
        _, where = tree.read(str(service / "supervise")) or ("", "")
        assert Path(where) in daemon_cgroups(second.pid)[:-1]
    second.signal(signal.SIGUSR1)
    await eventually(lambda: f"svc: tree ({tracking} " in second.stderr(), what="the dump")
    assert ": 3 processes" in second.stderr()
    result, took = await svc_wait("-d", "-wE", "-T", "10000", str(service), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [pid for pid in pids if pid_alive(pid)] == []
    assert took < 5.0


async def test_a_taken_back_run_in_no_cgroup_of_ours_keeps_its_session(
    tmp_path: Path, start_daemon: Callable[..., Daemon], leftovers: list[int],
) -> None:
    """Taken back by a daemon with cgroups from one without: there is no cgroup of ours to
    move it from (said once); it is taken back all the same, and its session followed."""
    need_cgroups()
    service = make_service(tmp_path, "svc", FAMILY_RUN, kill_leftovers="", timeout_kill="300")
    first = start_daemon(service, env={**os.environ, cgroups.SETTING: "0"})
    pids = await family(service, 3)
    leftovers.extend(pids)
    main = read_status(service).pid
    first.process.kill()
    first.process.wait()
    second = start_daemon(service, env={**os.environ, cgroups.SETTING: "1"})
    await eventually(lambda: supervisor_listening(service), what="taken back")
    assert read_status(service).pid == main
    assert second.stderr().count(f"unable to move run (pid {main}) into ") == 1
    assert "its session is followed" in second.stderr()
    assert fields(service, "tree,processes") == ["session", "3"]
    result, _ = await svc_wait("-d", "-wE", "-T", "10000", str(service), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [pid for pid in pids if pid_alive(pid)] == []


# --- qm-stop and a tcpserver-like intake -----------------------------------------------

#: A tcpserver stand-in: listens, forks a handler per connection, exits at once on TERM
#: (as tcpserver does), leaving its handlers to finish; each handler holds its connection
#: HOLD seconds and writes a stamped line when it starts, ends, or gets TERM.
LISTENER = r"""
import os, signal, socket, sys, time
events, port_file, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
def say(what):
    with open(events, "a") as f:
        f.write(f"{time.time():.6f} {what}\n")
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(16)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
with open(port_file + ".new", "w") as f:
    f.write(str(server.getsockname()[1]))
os.rename(port_file + ".new", port_file)
while True:
    conn, _ = server.accept()
    if os.fork() == 0:
        server.close()
        signal.signal(signal.SIGTERM, lambda *_: (say("session TERM"), os._exit(0)))
        say("session start")
        time.sleep(hold)
        say("session end")
        os._exit(0)
    conn.close()
"""

SENDER = """trap 'echo "$(date +%s.%N) send TERM" >> {events}; exit 0' TERM
while :; do sleep 0.1; done"""


def intake_tree(root: Path, hold: float) -> tuple[Path, Path, Path]:
    """SVDIR with qmail-smtpd (the stand-in) and qmail-send; (svdir, events, port file)."""
    svdir, events = root / "service", root / "events"
    events.touch()
    (root / "listener.py").write_text(LISTENER)
    port = root / "port"
    make_service(svdir, "qmail-smtpd",
                 f"exec {sys.executable} {root / 'listener.py'} {events} {port} {hold}")
    make_service(svdir, "qmail-send", SENDER.format(events=events))
    return svdir, events, port


def lines(events: Path, what: str) -> list[float]:
    return [float(line.split()[0]) for line in events.read_text().splitlines()
            if line.split(None, 1)[1] == what]


async def sessions(port: Path, count: int, events: Path) -> list[object]:
    """`count` connections held open, each with its handler started."""
    await eventually(port.exists, what="the listener")
    number = int(await trio.Path(port).read_text())
    conns = []
    for _ in range(count):
        conn = trio.socket.socket()
        await conn.connect(("127.0.0.1", number))
        conns.append(conn)
    await eventually(lambda: len(lines(events, "session start")) == count, what="sessions")
    return conns


def qm_stop(svdir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    result = subprocess.run([str(Path(sys.executable).parent / "qm-stop"), *args, str(svdir)],
                            capture_output=True, text=True, timeout=60, check=False)
    return result, time.monotonic() - began


async def test_qm_stop_waits_for_the_last_session(
    tmp_path: Path, start_daemon: Callable[..., Daemon], daemon_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    """qm-stop returns only after the last handler exits, saying meanwhile how many
    processes of the sessions remain (every 5 s; here every 0.4 s), and qmail-send gets
    TERM after that, never before. (In process, to shorten the progress interval.)"""
    svdir, events, port = intake_tree(tmp_path, hold=1.5)
    start_daemon(svdir / "qmail-smtpd", svdir / "qmail-send", env=daemon_env)
    await started(svdir / "qmail-send")
    conns = await sessions(port, 2, events)
    monkeypatch.setattr(qm, "PROGRESS_EVERY", 0.4)
    code = await trio.to_thread.run_sync(qm.stop, [str(svdir)])
    returned = time.time()
    for conn in conns:
        conn.close()  # type: ignore[attr-defined]
    assert code == 0
    assert "qm-stop: intake: 2 processes of its sessions remain" in capfd.readouterr().err
    ends, term = lines(events, "session end"), lines(events, "send TERM")
    assert len(ends) == 2 and len(term) == 1, events.read_text()
    assert max(ends) < term[0] <= returned


async def test_qm_stop_deadline_terms_the_sessions(
    tmp_path: Path, start_daemon: Callable[..., Daemon], daemon_env: dict[str, str],
) -> None:
    """-t 1: the sessions still running at the deadline get TERM (then qmail-send)."""
    svdir, events, port = intake_tree(tmp_path, hold=60)
    start_daemon(svdir / "qmail-smtpd", svdir / "qmail-send", env=daemon_env)
    await started(svdir / "qmail-send")
    conns = await sessions(port, 2, events)
    result, took = await trio.to_thread.run_sync(qm_stop, svdir, "-t", "1")
    for conn in conns:
        conn.close()  # type: ignore[attr-defined]
    assert result.returncode == 1
    assert "deadline: sent TERM to the 2 processes" in result.stderr, result.stderr
    assert took < 5.0
    await eventually(lambda: len(lines(events, "session TERM")) == 2, what="sessions TERMed")
    await eventually(lambda: lines(events, "send TERM"), what="qmail-send stopped")
    assert lines(events, "session end") == []

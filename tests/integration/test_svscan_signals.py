"""svscan's signals with real processes: HUP (re-exec with handover), USR1, TERM/INT/PWR, essential.

Every service here is a /bin/sh script in a real scan root. A HUP must leave
every service exactly as it was (same pid, no second start, same status) and
the daemon must carry on from the state it handed over: wanted-down, paused,
pending timers, readiness and log pipes. That the daemon really re-executed
is proven by what only a fresh image has: the handover variable in
``/proc/PID/environ`` and trio sockets that are not the old ones.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from supervise.reexec import ENV
from supervise.status import ExtraFlag, RunState, Want
from support import (
    IGNORE_TERM_RUN,
    SVSCAN,
    Daemon,
    event_loop_running,
    eventually,
    make_service,
    peer,
    pid_alive,
    process_table,
    read_extra,
    read_status,
    send,
    sockets,
    started,
    started_ignoring_term,
    supervisor_listening,
)

#: A run script that records each start in ./starts, then sleeps.
COUNTED_RUN = "echo start >> starts; exec sleep 1000"
#: A logger that records its start and swallows its input.
COUNTED_LOG = "echo start >> starts; exec cat > /dev/null"


# --- helpers -------------------------------------------------------------------------


def starts(service: Path) -> int:
    """How many times ./run of `service` was started (one line per start)."""
    try:
        return (service / "starts").read_text().count("\n")
    except FileNotFoundError:
        return 0


def environ(pid: int) -> list[str]:
    """The environment the current image of `pid` was exec'ed with."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().decode(errors="replace").split("\0")


def process_state(pid: int) -> str:
    """Field 3 of /proc/PID/stat: R, S, T (stopped), Z..."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat: when the process (not its image) began."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def state_lines(daemon: Daemon) -> list[str]:
    """Every line of every USR1 dump so far, without the ``svscan: state: `` prefix."""
    prefix = "svscan: state: "
    return [line[len(prefix):] for line in daemon.stderr().splitlines()
            if line.startswith(prefix)]


def headers(daemon: Daemon) -> int:
    """How many dumps the daemon has written."""
    return sum(line.startswith(f"pid {daemon.pid}, up ") for line in state_lines(daemon))


def last_dump(daemon: Daemon) -> list[str]:
    """The lines of the latest dump (from its header on)."""
    lines = state_lines(daemon)
    begin = max(i for i, line in enumerate(lines) if line.startswith(f"pid {daemon.pid}, up "))
    return lines[begin:]


async def dump(daemon: Daemon) -> list[str]:
    """Send USR1 and wait for the dump's header; the dump's lines."""
    before = headers(daemon)
    daemon.signal(signal.SIGUSR1)
    await eventually(lambda: headers(daemon) > before, what="a USR1 dump")
    return last_dump(daemon)


async def hup(daemon: Daemon, just_before: Callable[[], None] | None = None) -> None:
    """SIGHUP (right after `just_before`), then wait until the new image answers signals.

    The exec closes trio's old sockets (close-on-exec), so once one of them is
    gone the old image is gone; a USR1 sent after that stays blocked until the
    new image listens, and its dump says it does.
    """
    old = await event_loop_running(daemon.pid)
    if just_before is not None:
        just_before()
    daemon.signal(signal.SIGHUP)

    def exec_done() -> bool:
        alive(daemon)
        return not old <= sockets(daemon.pid)

    await eventually(exec_done, what="the re-exec")
    before = headers(daemon)  # the old image can dump no more
    daemon.signal(signal.SIGUSR1)

    def answered() -> bool:
        alive(daemon)
        return headers(daemon) > before

    await eventually(answered, what="a dump from the re-executed daemon")


async def settled(daemon: Daemon) -> None:
    """Wait until the daemon answers a USR1 (retried: one sent mid-exec may be dropped).

    Pending signals are delivered lowest number first, so a HUP still pending
    would be handled before the USR1: an answered dump means no HUP is left.
    """
    for _ in range(10):
        before = headers(daemon)
        daemon.signal(signal.SIGUSR1)
        with trio.move_on_after(3):
            while headers(daemon) == before:
                alive(daemon)
                await trio.sleep(0.05)
            return
    raise AssertionError("the daemon answers no USR1")


def svstat(*services: Path) -> str:
    """Debian's svstat on `services`, with the seconds left out."""
    result = subprocess.run(
        [peer("svstat"), *map(str, services)], capture_output=True, text=True, check=True,
        timeout=30,
    )
    return re.sub(r"\d+ seconds", "N seconds", result.stdout)


def zombies_of(pid: int) -> list[int]:
    """Children of `pid` that have exited and not been reaped."""
    return [child for child, (ppid, state) in process_table().items()
            if state == "Z" and ppid == pid]


class DaemonDied(Exception):
    """Raised inside a wait (which would retry an AssertionError) to fail at once."""


def alive(daemon: Daemon) -> None:
    if daemon.process.poll() is not None:
        raise DaemonDied(f"daemon exited {daemon.process.returncode}: {daemon.stderr()}")


def children_of(pid: int) -> list[int]:
    """Every process whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


@contextlib.contextmanager
def killed_if_failing(daemon: Daemon) -> Iterator[None]:
    """On failure, SIGKILL the daemon and its children by pid: a daemon that lost track of a
    child can wait for it forever, and its services would outlive the test."""
    try:
        yield
    except BaseException:
        if daemon.process.poll() is None:
            children = children_of(daemon.pid)
            daemon.process.kill()
            daemon.process.wait()
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        raise


async def down(service: Path) -> None:
    def is_down() -> bool:
        record = read_status(service)
        return record.pid == 0 and record.run_state is RunState.DOWN
    await eventually(is_down, what=f"{service} down")


# --- SIGHUP: re-exec, nothing restarted ----------------------------------------------


async def test_hup_reexecutes_without_restarting_any_service(
    tmp_path: Path, start_svscan: Any
) -> None:
    root = tmp_path / "root"
    a = make_service(root, "a", COUNTED_RUN)
    make_service(a, "log", COUNTED_LOG)
    b = make_service(root, "b", COUNTED_RUN)
    daemon = start_svscan(root)
    services = [a, a / "log", b]
    pids = [(await started(service)).pid for service in services]
    text = svstat(*services)
    began = start_time(daemon.pid)
    assert f"{ENV}=" not in "\n".join(environ(daemon.pid))  # a daemon started afresh

    await hup(daemon)

    assert daemon.process.poll() is None and start_time(daemon.pid) == began
    assert any(word.startswith(f"{ENV}=") for word in environ(daemon.pid)), "no exec happened"
    assert [read_status(service).pid for service in services] == pids
    assert all(read_status(service).run_state is RunState.RUN for service in services)
    assert all(pid_alive(pid) for pid in pids)
    assert [starts(service) for service in services] == [1, 1, 1]
    assert svstat(*services) == text
    assert "warning" not in daemon.stderr() and "alert" not in daemon.stderr()

    send(b, b"d")
    await down(b)
    assert read_status(b).want is Want.DOWN
    await eventually(lambda: not pid_alive(pids[2]), what="b's old ./run gone")
    send(b, b"u")
    record = await started(b)
    assert record.pid not in (0, pids[2])
    assert starts(b) == 2
    assert [read_status(service).pid for service in services[:2]] == pids[:2]


async def test_hup_carries_down_paused_and_down_file(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    stopped = make_service(root, "stopped", COUNTED_RUN)
    paused = make_service(root, "paused", COUNTED_RUN)
    idle = make_service(root, "idle", COUNTED_RUN, down="")
    daemon = start_svscan(root)
    stopped_pid = (await started(stopped)).pid
    paused_pid = (await started(paused)).pid
    await eventually(lambda: supervisor_listening(idle), what="idle supervised")
    send(stopped, b"d")
    await down(stopped)
    send(paused, b"p")
    await eventually(lambda: read_status(paused).paused, what="paused")

    await hup(daemon)

    send(paused, b"c")  # the new daemon reads control: once it did, every entry is running
    await eventually(lambda: not read_status(paused).paused, what="continued after HUP")
    assert read_status(paused).pid == paused_pid and pid_alive(paused_pid)
    for service in (stopped, idle):
        record = read_status(service)
        assert (record.pid, record.want, record.run_state) == (0, Want.DOWN, RunState.DOWN)
    assert (starts(stopped), starts(paused), starts(idle)) == (1, 1, 0)
    assert not pid_alive(stopped_pid)

    send(stopped, b"u")
    send(idle, b"u")
    assert (await started(stopped)).pid != stopped_pid
    await started(idle)
    assert (starts(stopped), starts(idle)) == (2, 1)


async def test_hup_keeps_a_paused_service_stopped(tmp_path: Path, start_svscan: Any) -> None:
    """After HUP the paused flag is still in the status and the process is still stopped."""
    root = tmp_path / "root"
    paused = make_service(root, "paused", COUNTED_RUN)
    daemon = start_svscan(root)
    pid = (await started(paused)).pid
    send(paused, b"p")
    await eventually(lambda: read_status(paused).paused, what="paused")

    await hup(daemon)
    await dump(daemon)

    record = read_status(paused)
    assert (record.pid, record.paused, record.run_state) == (pid, True, RunState.RUN)
    assert any(line.startswith("paused: up") and "paused" in line.split(",", 2)[-1]
               for line in last_dump(daemon))
    assert process_state(pid) == "T"  # still SIGSTOPped


async def test_pending_timeout_kill_fires_after_hup(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    stubborn = make_service(root, "stubborn", IGNORE_TERM_RUN, timeout_kill="2000")
    daemon = start_svscan(root)
    pid = (await started_ignoring_term(stubborn)).pid
    send(stubborn, b"d")
    await eventually(lambda: read_status(stubborn).term_sent, what="TERM sent")
    await hup(daemon)

    await down(stubborn)
    assert not pid_alive(pid)
    extra = read_extra(stubborn)
    assert (extra.exit_code, extra.exit_signal) == (0, signal.SIGKILL)
    assert read_status(stubborn).want is Want.DOWN
    assert starts(stubborn) == 0 and daemon.process.poll() is None


async def test_readiness_pipe_survives_hup(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    waiting = make_service(
        root, "waiting",
        "while [ ! -e go ]; do sleep 0.05; done; echo >&3; exec sleep 1000",
        notification_fd="3",
    )
    daemon = start_svscan(root)
    pid = (await started(waiting)).pid
    await eventually(lambda: ExtraFlag.NOTIFY in read_extra(waiting).flags, what="notify")
    assert ExtraFlag.READY not in read_extra(waiting).flags

    await hup(daemon)
    assert ExtraFlag.READY not in read_extra(waiting).flags
    (waiting / "go").write_text("")

    await eventually(lambda: ExtraFlag.READY in read_extra(waiting).flags, what="ready")
    extra = read_extra(waiting)
    assert ExtraFlag.NOTIFY in extra.flags and extra.ready_stamp is not None
    assert read_status(waiting).pid == pid
    lines = await dump(daemon)
    assert any(line.startswith(f"waiting: up (pid {pid})") and ", ready " in line
               for line in lines)


async def test_log_pipe_loses_no_line_across_hups(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    logged = tmp_path / "logged"
    writer = make_service(
        root, "writer",
        "i=0; while [ ! -e stop ]; do i=$((i+1)); echo $i; sleep 0.01; done; "
        "echo $i > last; exec sleep 1000",
    )
    make_service(writer, "log", f"exec cat >> {logged}")
    daemon = start_svscan(root)
    writer_pid = (await started(writer)).pid
    logger_pid = (await started(writer / "log")).pid
    for _ in range(5):
        await hup(daemon)
    (writer / "stop").write_text("")
    await eventually(lambda: (writer / "last").read_text().endswith("\n"), what="last line")
    last = int((writer / "last").read_text())
    assert (read_status(writer).pid, read_status(writer / "log").pid) == (writer_pid, logger_pid)
    assert daemon.stop() == 0
    assert logged.read_text().split("\n") == [str(n) for n in range(1, last + 1)] + [""]
    assert last > 5


async def test_children_exiting_around_hups_are_reaped(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    brief = make_service(root, "brief", "echo start >> starts; exec sleep 0.2")
    steady = make_service(root, "steady", COUNTED_RUN)
    daemon = start_svscan(root)
    with killed_if_failing(daemon):
        await started(brief)
        steady_pid = (await started(steady)).pid
        for _ in range(10):
            daemon.signal(signal.SIGHUP)
            await trio.sleep(0.15)
        await settled(daemon)

        count = starts(brief)
        await eventually(lambda: starts(brief) >= count + 2, what="brief restarted after HUPs")
        await eventually(lambda: not zombies_of(daemon.pid), what="no zombie child")
        assert read_status(steady).pid == steady_pid and starts(steady) == 1
        assert daemon.stop() == 0


def busy_then_kill(daemon: Daemon, pid: int) -> None:
    daemon.signal(signal.SIGUSR1)
    os.kill(pid, signal.SIGKILL)


async def test_child_dying_with_the_hup_is_restarted(tmp_path: Path, start_svscan: Any) -> None:
    """./run killed at the very moment of a HUP: its exit must reach the new daemon.

    Its SIGCHLD and the HUP arrive together (while the daemon is busy with a USR1
    dump, so that it takes both at once); whichever of the two the old daemon
    handles first, the exit must be seen (by it, or by the new one reaping on
    start). Several rounds, as the order within trio's batch of tasks is random.
    """
    root = tmp_path / "root"
    service = make_service(root, "svc", COUNTED_RUN)
    daemon = start_svscan(root)
    with killed_if_failing(daemon):
        pid = (await started(service)).pid
        for round_ in range(1, 9):
            await hup(daemon, just_before=partial(busy_then_kill, daemon, pid))
            old = pid

            def restarted(old: int = old) -> int:
                record = read_status(service)
                return record.pid if record.pid not in (0, old) else 0

            pid = int(await eventually(restarted, timeout=10, what=f"restart in round {round_}"))
            # the status names the new pid once it is spawned, before ./run writes its line;
            # a second start would make the count overshoot and never equal this
            await eventually(lambda n=round_ + 1: starts(service) == n, what="one start more")
            assert pid_alive(pid) and read_status(service).pid == pid
        assert daemon.stop() == 0


async def test_hup_then_term_at_once_still_stops(tmp_path: Path, start_svscan: Any) -> None:
    """A TERM sent right behind a HUP must not be lost in the re-exec."""
    root = tmp_path / "root"
    service = make_service(root, "a", COUNTED_RUN)
    daemon = start_svscan(root)
    pid = (await started(service)).pid
    os.kill(daemon.pid, signal.SIGHUP)
    os.kill(daemon.pid, signal.SIGTERM)
    try:
        code = daemon.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = None
    assert code == 0, "the TERM that followed the HUP was lost"
    assert not pid_alive(pid)


async def test_hup_with_the_default_directory(tmp_path: Path) -> None:
    """``svscan`` with no DIR (the working directory) re-executes like with one."""
    root = tmp_path / "root"
    service = make_service(root, "a", COUNTED_RUN)
    daemon = Daemon(program=SVSCAN, cwd=root)
    pid = 0
    try:
        pid = (await started(service)).pid
        await hup(daemon)
        assert read_status(service).pid == pid and starts(service) == 1
        assert daemon.stop() == 0
    finally:
        if daemon.process.poll() is None:
            daemon.stop()
        elif pid and pid_alive(pid):  # left unsupervised by a dead daemon: ours to end
            os.kill(pid, signal.SIGKILL)


async def test_unable_to_reexec_keeps_running(tmp_path: Path) -> None:
    root = tmp_path / "root"
    a = make_service(root, "a", COUNTED_RUN)
    make_service(a, "log", COUNTED_LOG)
    launcher = tmp_path / "svscan-launcher.py"
    launcher.write_text("import sys; from supervise.svscan_cli import main; sys.exit(main())\n")
    daemon = Daemon(root, program=[sys.executable, str(launcher)])
    try:
        pids = [(await started(service)).pid for service in (a, a / "log")]
        old = await event_loop_running(daemon.pid)
        launcher.unlink()
        daemon.signal(signal.SIGHUP)

        def alerted() -> bool:
            return "unable to re-execute" in daemon.stderr()

        await eventually(alerted, what="the alert line")
        lines = [line for line in daemon.stderr().splitlines() if "unable to re-execute" in line]
        assert len(lines) == 1 and lines[0].startswith("svscan: alert: "), lines
        assert daemon.process.poll() is None
        assert sockets(daemon.pid) == old  # the same image goes on
        assert [read_status(service).pid for service in (a, a / "log")] == pids
        assert starts(a) == 1 and starts(a / "log") == 1
        assert (await dump(daemon))[0].startswith(f"pid {daemon.pid}, up ")  # signals work

        send(a, b"d")
        await down(a)
        send(a, b"u")
        assert (await started(a)).pid not in (0, pids[0])
        assert read_status(a / "log").pid == pids[1]
        assert daemon.stop() == 0
    finally:
        if daemon.process.poll() is None:
            daemon.stop()


# --- SIGUSR1 --------------------------------------------------------------------------


async def test_usr1_dumps_the_state(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    a = make_service(root, "a", "echo >&3; exec sleep 1000", notification_fd="3")
    make_service(a, "log", "exec cat > /dev/null")
    b = make_service(
        root, "b", "echo start >> starts; [ $(wc -l < starts) -ge 2 ] || exit 1; exec sleep 1000"
    )
    daemon = start_svscan(root)
    a_pid = (await started(a)).pid
    log_pid = (await started(a / "log")).pid
    await eventually(lambda: starts(b) == 2 and read_status(b).pid, what="b's second start")
    b_pid = read_status(b).pid
    await eventually(lambda: ExtraFlag.READY in read_extra(a).flags, what="a ready")

    await dump(daemon)
    await eventually(lambda: any(line.startswith("fd ") and "a/supervise/ok" in line
                                 for line in last_dump(daemon)), what="the whole dump")
    lines = last_dump(daemon)
    assert re.fullmatch(rf"pid {daemon.pid}, up \d+ seconds, 2 services, 3 children", lines[0])
    states = [line for line in lines[1:] if ": tree (" not in line][:3]
    by_path = {line.split(":", 1)[0]: line for line in states}
    trees = {line.split(":", 1)[0]: line for line in lines if ": tree (" in line}
    assert re.fullmatch(rf"a: tree \((cgroup|session) \S+\): 1 processes.*: {a_pid}", trees["a"])
    assert re.fullmatch(
        rf"a: up \(pid {a_pid}\) \d+ seconds, 0 restarts, ready \d+ seconds, want up", by_path["a"]
    )
    assert re.fullmatch(rf"a/log: up \(pid {log_pid}\) \d+ seconds, 0 restarts, want up",
                        by_path["a/log"])
    assert re.fullmatch(rf"b: up \(pid {b_pid}\) \d+ seconds, 1 restarts, want up", by_path["b"])

    fds = {}
    for line in lines:
        if match := re.fullmatch(r"fd (\d+): (.*)", line):
            fds[match[2]] = int(match[1])
    for service in ("a", "a/log", "b"):
        for name in ("lock", "control", "ok"):
            number = fds[f"{service}/supervise/{name}"]
            target = os.readlink(f"/proc/{daemon.pid}/fd/{number}")
            assert target == str(root / service / "supervise" / name)
    for end in ("read end", "write end"):
        assert os.readlink(f"/proc/{daemon.pid}/fd/{fds[f'a: log pipe, {end}']}").startswith(
            "pipe:"
        )
    assert "a: readiness pipe" not in fds  # read and closed once ready
    assert "b: log pipe, read end" not in fds

    # The re-executed daemon knows the same: restarts, readiness, children, descriptors.
    await hup(daemon)
    await eventually(lambda: any(line.startswith("fd ") and "a/supervise/ok" in line
                                 for line in last_dump(daemon)), what="the whole dump")
    after = last_dump(daemon)
    assert re.fullmatch(rf"pid {daemon.pid}, up \d+ seconds, 2 services, 3 children", after[0])
    assert [re.sub(r"\d+ seconds", "N seconds", line) for line in after[1:4]] == [
        re.sub(r"\d+ seconds", "N seconds", line) for line in lines[1:4]
    ]
    assert {line for line in after if "supervise/" in line or "log pipe" in line} == {
        line for line in lines if "supervise/" in line or "log pipe" in line
    }


# --- SIGTERM, SIGINT, SIGPWR: orderly shutdown ---------------------------------------


def ordered_run(name: str, events: Path, delay: str = "") -> str:
    """A main that, on TERM, appends ``NAME stopped TIME`` to `events` (after `delay`)."""
    return (
        f"trap '{delay} echo \"{name} stopped $(date +%s.%N)\" >> {events}; kill $child; exit 0'"
        " TERM\n"
        f"echo {name} says hello\n"
        "sleep 1000 > /dev/null &\n"
        "child=$!\n"
        "echo > trap-set\n"
        "wait\n"
    )


def ordered_log(name: str, events: Path, output: Path) -> str:
    """A logger that reads to EOF, then appends ``NAME/log ended TIME``; a TERM is noted."""
    return (
        f"trap 'echo \"{name}/log got TERM\" >> {events}' TERM\n"
        f"cat > {output}\n"
        f"echo \"{name}/log ended $(date +%s.%N)\" >> {events}\n"
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGPWR])
async def test_stop_signal_stops_mains_before_loggers(
    tmp_path: Path, start_svscan: Any, signum: int
) -> None:
    root = tmp_path / "root"
    events = tmp_path / "events"
    mains = []
    for name, delay in (("a", ""), ("b", ""), ("c", "sleep 1;")):
        main = make_service(root, name, ordered_run(name, events, delay))
        make_service(main, "log", ordered_log(name, events, tmp_path / f"{name}.log"))
        mains.append(main)
    plain = make_service(root, "plain", COUNTED_RUN)
    daemon = start_svscan(root)
    pids = []
    for main in mains:
        pids.append((await started(main)).pid)
        pids.append((await started(main / "log")).pid)
        await eventually(lambda main=main: (main / "trap-set").exists(), what="trap set")
    pids.append((await started(plain)).pid)

    daemon.signal(signum)
    assert daemon.wait() == 0

    lines = events.read_text().splitlines()
    words = [line.rsplit(" ", 1)[0] for line in lines]
    assert sorted(words) == sorted(
        [f"{name} stopped" for name in "abc"] + [f"{name}/log ended" for name in "abc"]
    ), lines
    assert all(word.endswith(" stopped") for word in words[:3]), lines  # mains first
    assert all(word.endswith("/log ended") for word in words[3:]), lines
    times = [float(line.rsplit(" ", 1)[1]) for line in lines]
    assert max(times[:3]) <= min(times[3:])
    for name in "abc":
        assert (tmp_path / f"{name}.log").read_text() == f"{name} says hello\n"
    assert not any(pid_alive(pid) for pid in pids)
    for service in [*mains, *(main / "log" for main in mains), plain]:
        assert read_status(service).pid == 0
        assert not supervisor_listening(service)


async def test_second_term_kills_what_ignores_term(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    stubborn = make_service(root, "stubborn", IGNORE_TERM_RUN)
    make_service(stubborn, "log", "exec cat > /dev/null")
    daemon = start_svscan(root)
    pid = (await started_ignoring_term(stubborn)).pid
    log_pid = (await started(stubborn / "log")).pid
    daemon.signal(signal.SIGTERM)
    await eventually(lambda: read_status(stubborn).term_sent, what="TERM sent")
    await trio.sleep(0.5)
    assert daemon.process.poll() is None and pid_alive(pid) and pid_alive(log_pid)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert not pid_alive(pid) and not pid_alive(log_pid)
    extra = read_extra(stubborn)
    assert extra.exit_signal == signal.SIGKILL


# --- essential ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "files", "control", "code"),
    [
        pytest.param("exit 3", {"down": ""}, b"o", 3, id="once-exit-3"),
        pytest.param("exec sleep 1000", {}, b"d", 128 + signal.SIGTERM, id="down-term"),
        pytest.param("exec sleep 1000", {}, b"ok", 128 + signal.SIGKILL, id="once-killed"),
        pytest.param("exit 4", {"down": "", "finish": "exit 125"}, b"u", 4, id="finish-125"),
    ],
)
async def test_essential_down_for_good_shuts_the_tree_down(
    tmp_path: Path, start_svscan: Any, run: str, files: dict[str, str], control: bytes,
    code: int,
) -> None:
    root = tmp_path / "root"
    vital = make_service(root, "vital", run, essential="", **files)
    other = make_service(root, "other", COUNTED_RUN)
    make_service(other, "log", COUNTED_LOG)
    daemon = start_svscan(root)
    other_pids = [(await started(other)).pid, (await started(other / "log")).pid]
    if "down" in files:
        await eventually(lambda: supervisor_listening(vital), what="vital supervised")
    else:
        await started(vital)
    send(vital, control)
    assert daemon.wait() == code
    assert not any(pid_alive(pid) for pid in other_pids)
    assert f"essential service vital is down for good (exit {code})" in daemon.stderr()
    assert starts(other) == 1


async def test_essential_crash_is_restarted(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    vital = make_service(root, "vital", "echo start >> starts; exit 5", essential="")
    other = make_service(root, "other", COUNTED_RUN)
    daemon = start_svscan(root)
    other_pid = (await started(other)).pid
    await eventually(lambda: starts(vital) >= 3, timeout=30, what="vital restarted twice")
    assert daemon.process.poll() is None
    assert read_status(other).pid == other_pid
    assert "essential" not in daemon.stderr()
    assert daemon.stop() == 0

"""svscan's scan of its root, with real directories, real processes and real signals.

Every service here runs ``echo $$ >> starts; exec sleep 1000``: the ``starts``
file inside the service directory lists every pid that ./run ever had there,
so "one copy, never restarted" is one line in it. The daemon's stdout and
stderr go to one file (`support.Daemon`), outside the root.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import trio

from supervise.entry import RETAKE_DELAY
from supervise.status import Want
from support import (
    PATIENCE,
    eventually,
    fd_targets,
    make_service,
    pid_alive,
    read_status,
    send,
    started,
    supervisor_listening,
)

RUN = "echo $$ >> starts; exec sleep 1000"
_HEADER = re.compile(r"^svscan: state: pid \d+, up ", re.MULTILINE)
_SERVICE_LINE = re.compile(r"^svscan: state: (\S+): (?:up|down|finish)\b", re.MULTILINE)


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    return root


def _starts(service: Path) -> list[int]:
    return [int(word) for word in (service / "starts").read_text().split()]


async def _dump(daemon: Any) -> set[str]:
    """The names of the services svscan supervises, from its SIGUSR1 dump.

    Two dumps are asked for, one after the other; the first is complete once
    the second has begun (each is written in one go), and its names are returned.
    """
    texts = []
    for _ in range(2):
        before = len(_HEADER.findall(daemon.stderr()))
        daemon.signal(signal.SIGUSR1)
        await eventually(lambda n=before: len(_HEADER.findall(daemon.stderr())) > n,
                         what="a SIGUSR1 dump")
        texts.append(daemon.stderr())
    whole = texts[1]
    starts = [match.start() for match in _HEADER.finditer(whole)]
    first = whole[starts[-2]:starts[-1]]
    return set(_SERVICE_LINE.findall(first))


async def _dump_until(daemon: Any, wanted: set[str]) -> set[str]:
    """Ask for dumps until the supervised names are `wanted` (or PATIENCE is over)."""
    deadline = trio.current_time() + PATIENCE
    while True:
        names = await _dump(daemon)
        if names == wanted or trio.current_time() > deadline:
            return names
        await trio.sleep(0.1)


async def _first_scan_done(daemon: Any) -> None:
    """Wait until svscan's event loop has scanned the root once.

    It watches the root (its inotify descriptor) in the step that makes the
    first scan, so a dump asked for once the watch exists comes after that scan.
    """
    await eventually(lambda: "anon_inode:inotify" in fd_targets(daemon.pid),
                     what="svscan watching its root")
    await _dump(daemon)


async def _new_pid(service: Path, old: int, timeout: float = PATIENCE) -> int:
    """Wait until the status shows ./run up with a pid other than `old`; that pid."""
    seen: list[object] = []

    def fresh() -> int:
        record = read_status(service)
        seen[:] = [record]
        return record.pid if record.pid not in (0, old) else 0

    try:
        pid = await eventually(fresh, timeout, f"{service} up again")
    except AssertionError as error:
        starts = _starts(service) if (service / "starts").exists() else []
        alive = [pid for pid in starts if pid_alive(pid)]
        raise AssertionError(
            f"{error}; status last read: {seen}; ./run pids: {starts}, still running: {alive}"
        ) from None
    assert isinstance(pid, int)
    return pid


async def test_every_directory_not_starting_with_a_dot_is_started(
    tmp_path: Path, start_svscan: Any
) -> None:
    """Subdirectories and symlinks to directories are services; dot-names and files are not."""
    root = _root(tmp_path)
    for name in ("a", "b", ".hidden"):
        make_service(root, name, RUN)
    make_service(tmp_path, "elsewhere", RUN)
    (root / "link").symlink_to(tmp_path / "elsewhere")
    (root / "plain").write_text("not a service\n")
    (root / "filelink").symlink_to(root / "plain")
    (root / "dangling").symlink_to(tmp_path / "nothing")
    daemon = start_svscan(root)
    for name in ("a", "b", "link"):
        await started(root / name)
    assert await _dump(daemon) == {"a", "b", "link"}
    assert not (root / ".hidden" / "supervise").exists()
    assert not (root / ".hidden" / "starts").exists()
    assert daemon.process.poll() is None


async def test_new_directory_is_started_without_sigalrm(
    tmp_path: Path, start_svscan: Any
) -> None:
    """A service directory made while svscan runs is started by itself (inotify)."""
    root = _root(tmp_path)
    make_service(root, "a", RUN)
    start_svscan(root)
    first = (await started(root / "a")).pid
    make_service(root, "b", RUN)  # mkdir, then run: the daemon may look in between
    second = (await started(root / "b")).pid
    assert _starts(root / "b") == [second]
    assert _starts(root / "a") == [first] and pid_alive(first)


async def test_sigalrm_rescans(tmp_path: Path, start_svscan: Any) -> None:
    """SIGALRM rescans at once, even when the root itself did not change.

    ``later`` is a symlink in the root to a directory that does not exist
    yet: skipped. Making that directory touches nothing in the root, so
    inotify says nothing; only the SIGALRM rescan finds the service.
    """
    root = _root(tmp_path)
    make_service(root, "a", RUN)
    (root / "later").symlink_to(tmp_path / "later")
    daemon = start_svscan(root)
    await started(root / "a")
    await _first_scan_done(daemon)
    later = make_service(tmp_path, "later", RUN)
    await trio.sleep(1.0)
    assert not (later / "supervise").exists(), "started without a rescan"
    daemon.signal(signal.SIGALRM)
    pid = (await started(later)).pid
    assert _starts(later) == [pid]


async def test_renamed_directory_keeps_its_process(tmp_path: Path, start_svscan: Any) -> None:
    """A rename is the same service: same pid, no second copy, status under the new name."""
    root = _root(tmp_path)
    make_service(root, "a", RUN)
    daemon = start_svscan(root)
    pid = (await started(root / "a")).pid
    os.rename(root / "a", root / "b")
    assert await _dump_until(daemon, {"b"}) == {"b"}
    daemon.signal(signal.SIGALRM)
    assert await _dump(daemon) == {"b"}
    assert pid_alive(pid)
    assert read_status(root / "b").pid == pid
    assert _starts(root / "b") == [pid]
    # svscan now writes the status under the new name: a "d" shows up there.
    send(root / "b", b"d")
    await eventually(lambda: read_status(root / "b").pid == 0, what="b down")
    assert not pid_alive(pid)
    assert _starts(root / "b") == [pid]
    assert "unable to acquire" not in daemon.stderr()


async def test_removed_directory_is_stopped_and_others_undisturbed(
    tmp_path: Path, start_svscan: Any
) -> None:
    """rm -rf or a move out of the root stops that service, says so, and touches no other."""
    root = _root(tmp_path)
    for name in ("a", "b", "c"):
        make_service(root, name, RUN)
    daemon = start_svscan(root)
    pids = {name: (await started(root / name)).pid for name in ("a", "b", "c")}
    shutil.rmtree(root / "b")
    os.rename(root / "c", tmp_path / "c-moved")
    await eventually(lambda: not pid_alive(pids["b"]), what="b's ./run gone")
    await eventually(lambda: not pid_alive(pids["c"]), what="c's ./run gone")
    await eventually(lambda: "b is gone" in daemon.stderr(), what="b is gone said")
    await eventually(lambda: "c is gone" in daemon.stderr(), what="c is gone said")
    assert await _dump_until(daemon, {"a"}) == {"a"}
    assert _starts(tmp_path / "c-moved") == [pids["c"]]  # stopped, not restarted
    assert pid_alive(pids["a"])
    assert read_status(root / "a").pid == pids["a"]
    assert _starts(root / "a") == [pids["a"]]
    assert daemon.process.poll() is None


async def test_directory_recreated_in_place_gets_a_new_supervision(
    tmp_path: Path, start_svscan: Any
) -> None:
    """Remove a service, then make a new directory of the same name: it is started afresh."""
    root = _root(tmp_path)
    make_service(root, "a", RUN)
    daemon = start_svscan(root)
    old = (await started(root / "a")).pid
    shutil.rmtree(root / "a")
    await eventually(lambda: not pid_alive(old), what="old ./run gone")
    assert await _dump_until(daemon, set()) == set()  # the old supervision is over
    make_service(root, "a", RUN)
    new = await _new_pid(root / "a", old)
    assert _starts(root / "a") == [new]
    assert pid_alive(new)


async def test_directory_recreated_at_once_gets_a_new_supervision(
    tmp_path: Path, start_svscan: Any
) -> None:
    """rm -rf then mkdir of the same name with no pause: the new directory is started,
    and its ``supervise/status`` (what svstat shows) is the new ./run's, up.

    Nothing from the old supervision may reach the new directory: not its
    process, and not its last status ("down, want down") written by name.
    """
    root = _root(tmp_path)
    make_service(root, "a", RUN)
    start_svscan(root)
    old = (await started(root / "a")).pid
    _remove_tree(root / "a")
    make_service(root, "a", RUN)
    await eventually(lambda: _starts(root / "a"), what="a ./run in the new directory")
    await eventually(lambda: not pid_alive(old), what="old ./run gone")
    [new] = _starts(root / "a")
    assert pid_alive(new)
    await trio.sleep(0.5)  # the old supervision's last words, if any, are written by now
    assert await _new_pid(root / "a", old, timeout=5.0) == new
    record = read_status(root / "a")
    assert (record.pid, record.want) == (new, Want.UP), record
    assert pid_alive(new)


async def test_empty_root_is_said_once_and_filled_later(
    tmp_path: Path, start_svscan: Any
) -> None:
    """An empty root is no error: said once, the daemon waits, a service added later runs."""
    root = _root(tmp_path)
    daemon = start_svscan(root)
    message = "has no service directories"
    await eventually(lambda: message in daemon.stderr(), what="empty root said")
    (root / "not-a-service").write_text("")  # a root event: another rescan, still empty
    daemon.signal(signal.SIGALRM)
    await trio.sleep(0.3)
    assert await _dump(daemon) == set()
    assert daemon.stderr().count(message) == 1
    assert daemon.process.poll() is None
    make_service(root, "late", RUN)
    pid = (await started(root / "late")).pid
    assert _starts(root / "late") == [pid]
    assert daemon.stderr().count(message) == 1


async def test_x_alone_leaves_a_running_service_up(tmp_path: Path, start_svscan: Any) -> None:
    """``x`` under svscan: the service is not stopped; it is marked to exit once down."""
    root = _root(tmp_path)
    make_service(root, "a", RUN)
    daemon = start_svscan(root)
    pid = (await started(root / "a")).pid
    send(root / "a", b"x")
    stat = root / "a" / "supervise" / "stat"
    await eventually(lambda: "want exit" in stat.read_text(), what="x heard")
    assert pid_alive(pid) and read_status(root / "a").pid == pid
    assert supervisor_listening(root / "a")
    assert daemon.process.poll() is None


async def test_dx_releases_then_svscan_takes_the_directory_again(
    tmp_path: Path, start_svscan: Any
) -> None:
    """``svc -dx``: the service goes down, the directory is released, and after
    RETAKE_DELAY svscan takes it again and starts it (daemontools' svscan)."""
    root = _root(tmp_path)
    service = make_service(root, "a", RUN)
    daemon = start_svscan(root)
    old = (await started(service)).pid
    await eventually(lambda: (service / "starts").exists() and _starts(service) == [old],
                     what="./run wrote its pid")  # before d can kill it
    send(service, b"dx")
    await eventually(lambda: not pid_alive(old), what="old ./run gone")
    await eventually(lambda: not supervisor_listening(service), what="directory released")
    new = await _new_pid(service, old, PATIENCE + RETAKE_DELAY)
    assert _starts(service) == [old, new]
    assert supervisor_listening(service)
    assert daemon.process.poll() is None
    assert "is gone" not in daemon.stderr()


async def test_broken_directories_beside_good_ones(tmp_path: Path, start_svscan: Any) -> None:
    """No run, or run not executable: said once each; the good service runs, svscan stays."""
    root = _root(tmp_path)
    make_service(root, "good", RUN)
    (root / "norun").mkdir()
    make_service(root, "noexec", RUN)
    (root / "noexec" / "run").chmod(0o644)
    daemon = start_svscan(root)
    pid = (await started(root / "good")).pid
    await eventually(lambda: "norun/run" in daemon.stderr(), what="norun/run named")
    await eventually(lambda: "noexec/run" in daemon.stderr(), what="noexec/run named")
    await trio.sleep(2.5)  # at least one retry of each (1 s, then 2 s later)
    text = daemon.stderr()
    assert text.count("norun/run") == 1, text
    assert text.count("noexec/run") == 1, text
    assert daemon.process.poll() is None
    assert pid_alive(pid) and _starts(root / "good") == [pid]


async def test_missing_root_exits_111(tmp_path: Path, start_svscan: Any) -> None:
    """svscan DIR for a DIR that does not exist: exit 111, naming DIR."""
    missing = tmp_path / "missing"
    daemon = start_svscan(missing)
    assert daemon.wait() == 111
    text = daemon.stderr()
    assert "unable to chdir to" in text and str(missing) in text, text


async def test_usage_errors_exit_100(tmp_path: Path, start_svscan: Any) -> None:
    """An unknown option or two directories: exit 100 with the usage line, nothing started."""
    root = _root(tmp_path)
    make_service(root, "a", RUN)
    unknown = start_svscan(root, "-z")
    assert unknown.wait() == 100
    assert "usage" in unknown.stderr() and "-z" in unknown.stderr()
    two = start_svscan(root, str(tmp_path))
    assert two.wait() == 100
    assert "usage" in two.stderr()
    assert not (root / "a" / "starts").exists()


async def test_sigterm_stops_every_service_and_exits_0(
    tmp_path: Path, start_svscan: Any
) -> None:
    """SIGTERM: every ./run and every logger ends, then svscan exits 0."""
    root = _root(tmp_path)
    for name in ("a", "b"):
        make_service(root, name, RUN)
    make_service(root, "c", RUN)
    make_service(root / "c", "log", "exec cat > /dev/null")
    daemon = start_svscan(root)
    pids = [(await started(root / name)).pid for name in ("a", "b", "c", "c/log")]
    assert all(pid_alive(pid) for pid in pids)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert [pid for pid in pids if pid_alive(pid)] == []


def _remove_tree(path: Path) -> None:
    """``rm -rf``: repeated, as a user would, when the supervisor wrote a file meanwhile.

    The old supervisor may still write ``supervise/status.new`` into the
    directory while it is being removed (it is still its directory then), so
    one pass of rmtree can find it not empty.
    """
    for _ in range(50):
        try:
            shutil.rmtree(path)
            return
        except OSError:
            continue
    shutil.rmtree(path)

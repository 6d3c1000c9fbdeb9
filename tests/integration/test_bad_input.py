"""A catalogue of broken service directories in one svscan root, beside good services.

One ``svscan -s`` runs on one root holding every kind below at once, plus two
good services. For ~11 s (setup retries at 1, 3 and 7 s, a crash loop, a
fork-and-exit loop, a lock retaken every 5 s, and 50 SIGALRM rescans) the test
checks that the good services keep their pid and still obey control bytes,
that each fault is said on stderr once, naming its directory, and that the
daemon's memory stays flat. "said" is the text of the ``svscan: warning:``
line (``fatal:`` for the held lock); a name in it is the directory's name in
the root, as the daemon writes it (a non-UTF-8 byte comes out as Python's
``\\udcXX`` escape: the line stays valid UTF-8).

Legend: S = said once on stderr (text below, X = the directory), R = its ./run runs anyway,
N = nothing runs, Q = nothing said. Each row is one entry of the one root.

 #  entry (in the root)        fault
      -> expected
--  -------------------------  ----------------------------------------------------------------
 1  no-run                     empty directory
      -> S "unable to start X/run: file does not exist", N
 2  run-not-executable         run mode 0644
      -> S "unable to start X/run: access denied", N
 3  run-directory              run is a directory
      -> S "unable to start X/run: access denied", N
 4  run-dangling-symlink       run -> ./missing
      -> S "unable to start X/run: file does not exist", N
 5  run-symlink-loop           run -> run2 -> run
      -> S "unable to start X/run: symbolic link loop", N
 6  run-symlink-chain          run is 41 symlinks deep (the kernel follows at most 40)
      -> S "unable to start X/run: symbolic link loop", N
 7  run-empty                  run an empty executable file
      -> S "unable to start X/run: exec format error", N
 8  run-bad-interpreter        run starts with #!/nonexistent/sh
      -> S "unable to start X/run: file does not exist", N
 9  supervise-file             supervise is a regular file
      -> S "unable to open X/supervise: not a directory", N
10  supervise-symlink-loop     supervise -> supervise
      -> S "unable to open X/supervise: symbolic link loop", N
11  supervise-in-proc          supervise -> /proc/self/fdinfo: nothing can be created there
      -> S "unable to open X/supervise/lock: ...", N
12  lock-directory             supervise/lock is a directory
      -> S "unable to open X/supervise/lock: is a directory", N
13  lock-symlink               supervise/lock -> a canary file
      -> S "unable to open X/supervise/lock: symbolic link loop", N, canary untouched
14  lock-held                  another process holds supervise/lock
      -> S (fatal) "unable to acquire X/supervise/lock: temporary failure", N; said again
         at each retake, every 5 s (daemontools' svscan restarts supervise, which says it)
15  control-file               supervise/control is a regular file
      -> S "unable to open X/supervise/control: not a FIFO", N
16  control-symlink            supervise/control -> a canary file
      -> S "unable to open X/supervise/control: a symbolic link, not a FIFO", N
17  control-directory          supervise/control is a directory
      -> S "unable to open X/supervise/control: is a directory", N
18  ok-file                    supervise/ok is a regular file
      -> S "unable to create X/supervise/ok: not a FIFO", N
19  proc-fdinfo                the entry is a symlink to /proc/self/fdinfo (unwritable dir)
      -> S "unable to open X/supervise: ...", N
20  status-directory           supervise/status is a directory
      -> S "unable to write X/supervise/status: is a directory", R
21  pid-directory              supervise/pid (runit's file) is a directory
      -> S "unable to write X/supervise/pid: is a directory", R; status written all the same
         (see test_unwritable_pid_file_does_not_hide_the_status)
22  status-symlink             supervise/status -> a canary file
      -> Q, R; the symlink is replaced by the status file, the canary untouched
23  status-new-planted         supervise/status.new -> a canary file
      -> Q, R; the canary untouched
24  notification-fd-garbage    notification-fd holds "banana"
      -> S "X/notification-fd: not a file descriptor from 3 to 1024: 'banana'; using the
         default", R; restarting it (k) says nothing more
25  notification-fd-oversized  notification-fd holds 300 bytes
      -> S "X/notification-fd: more than 256 bytes; using the default", R
26  notification-fd-directory  notification-fd is a directory
      -> S "unable to read X/notification-fd: is a directory", R
27  timeout-kill-garbage       timeout-kill holds "-5 soon" (read at d)
      -> R; at d: S "X/timeout-kill: not a number of milliseconds: '-5 soon'; using the
         default", and it goes down on TERM; u brings it back
28  down-signal-garbage        down-signal holds "SIGBOGUS" (read at d)
      -> R; at d: S "X/down-signal: not a signal name: 'SIGBOGUS'; using the default",
         TERM sent, down; u brings it back
29  timeout-finish-garbage     timeout-finish "soon"; run exits 1 at once, finish exits 0
      -> S "X/timeout-finish: not a number of milliseconds: 'soon'; using the default"
         once, though read at every one of its restarts (at most one a second)
30  finish-bad-interpreter     run exits 1 at once; finish starts with #!/nonexistent/sh
      -> S "unable to start X/finish: file does not exist" once over all its restarts
31  crash-loop                 run exits 1 at once
      -> Q; restarted at most once a second
32  closes-stdio               run closes fds 0, 1 and 2, then sleeps
      -> Q, R; obeys k
33  forks-and-exits            run leaves a child (sleep 1) behind and exits 0
      -> Q; restarted; the orphans are reparented to svscan (-s) and reaped: no zombie
34  log-file                   log is a regular file
      -> Q, R without a logger (daemontools: log/ must be a directory)
35  log-no-run                 log/ has no run
      -> S "unable to start X/log/run: file does not exist"; the service runs
36  log-supervise-file         log/supervise is a regular file
      -> S "unable to open X/log/supervise: not a directory"; the service runs
37  down-directory             down is a directory
      -> Q; a down file of any type (daemontools stats it): down, normally down; u starts it
38  "nl\nno-run"               newline in the name, no run
      -> S as 1, the newline shown as \x0a (see test_newline_in_a_name_stays_on_one_line)
39  b"bad\xff-no-run"          non-UTF-8 name, no run
      -> S as 1, the byte escaped: "bad\udcff-no-run"; the line is valid UTF-8
40  "nl\nok"                   newline in the name, good run
      -> Q, R
41  b"ok\xfe"                  non-UTF-8 name, good run
      -> Q, R
42  dangling                   a symlink to nothing
      -> S "unable to stat dangling: file does not exist" (as daemontools' svscan)
43  loop-a                     a symlink loop (loop-a -> loop-b -> loop-a)
      -> S "unable to stat loop-a: symbolic link loop" (and loop-b the same)

The unreadable directories root can read anyway are in
`test_unreadable_directories_as_nobody` (svscan run as ``nobody``).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import trio

from supervise.entry import RETAKE_DELAY
from supervise.status import ExtraFlag, RunState, Want
from support import (
    SVSCAN,
    Daemon,
    client,
    descendants,
    eventually,
    make_service,
    memory_kib,
    pid_alive,
    process_table,
    read_extra,
    read_status,
    send,
    started,
    supervisor_listening,
)

RUN = "echo $$ >> starts; exec sleep 1000"
#: Writes which signal ended it into ``got`` (its traps are set once ``starts`` has its pid).
TELLS_SIGNAL = (
    "trap 'echo TERM > got; exit 0' TERM\n"
    "trap 'echo other > got; exit 0' HUP INT QUIT USR1 USR2 ALRM WINCH\n"
    "echo $$ >> starts\n"
    "while :; do sleep 0.1; done"
)
CANARY_TEXT = "canary: must never change\n"
#: How much the daemon's RSS (and its heap) may grow between warm-up and the end (KiB).
MEMORY_BOUND_KIB = 2048
#: How long the daemon is left retrying, in all (seconds from its start).
RETRYING = 10.5
ALARMS = 50


class Kind(NamedTuple):
    """One broken (or odd) entry of the root."""

    name: str  # as os.fsdecode gives it: a non-UTF-8 byte is a surrogate
    said: str | None  # the text said on stderr, with NAME for the name as the daemon writes it
    runs: bool  # whether its ./run runs anyway (its `starts` file gets one pid)


def shown(name: str) -> str:
    """A name as the daemon's stderr shows it: a control character as \\xNN, an undecodable
    byte as Python's surrogate escape."""
    escaped = "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c
                      for c in name)
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _supervise_dir(service: Path) -> Path:
    supervise = service / "supervise"
    supervise.mkdir(mode=0o700)
    return supervise


def build_catalogue(root: Path, outside: Path) -> tuple[list[Kind], Path]:
    """Make every broken kind in `root`; return them and the canary file (in `outside`)."""
    canary = outside / "canary"
    canary.write_text(CANARY_TEXT)
    kinds: list[Kind] = []

    def kind(name: str, said: str | None, runs: bool = False) -> Path:
        kinds.append(Kind(name, said, runs))
        return root / name

    start = "unable to start NAME/run: "
    # --- ./run cannot be started -------------------------------------------------------
    kind("no-run", start + "file does not exist").mkdir()
    make_service(root, "run-not-executable", RUN)
    (root / "run-not-executable" / "run").chmod(0o644)
    kind("run-not-executable", start + "access denied")
    (kind("run-directory", start + "access denied") / "run").mkdir(parents=True)
    service = kind("run-dangling-symlink", start + "file does not exist")
    service.mkdir()
    (service / "run").symlink_to("missing")
    service = kind("run-symlink-loop", start + "symbolic link loop")
    service.mkdir()
    (service / "run").symlink_to("run2")
    (service / "run2").symlink_to("run")
    service = kind("run-symlink-chain", start + "symbolic link loop")
    service.mkdir()
    _script(service / "real", RUN)
    (service / "run").symlink_to("c1")
    for hop in range(1, 40):
        (service / f"c{hop}").symlink_to(f"c{hop + 1}")
    (service / "c40").symlink_to("real")
    service = kind("run-empty", start + "exec format error")
    service.mkdir()
    (service / "run").write_bytes(b"")
    (service / "run").chmod(0o755)
    service = kind("run-bad-interpreter", start + "file does not exist")
    service.mkdir()
    (service / "run").write_text("#!/nonexistent/sh\n")
    (service / "run").chmod(0o755)
    # --- the directory cannot be taken -------------------------------------------------
    (make_service(root, "supervise-file", RUN) / "supervise").write_text("")
    kind("supervise-file", "unable to open NAME/supervise: not a directory")
    (make_service(root, "supervise-symlink-loop", RUN) / "supervise").symlink_to("supervise")
    kind("supervise-symlink-loop", "unable to open NAME/supervise: symbolic link loop")
    (make_service(root, "supervise-in-proc", RUN) / "supervise").symlink_to("/proc/self/fdinfo")
    kind("supervise-in-proc", "unable to open NAME/supervise/lock: ")
    (_supervise_dir(make_service(root, "lock-directory", RUN)) / "lock").mkdir()
    kind("lock-directory", "unable to open NAME/supervise/lock: is a directory")
    (_supervise_dir(make_service(root, "lock-symlink", RUN)) / "lock").symlink_to(canary)
    kind("lock-symlink", "unable to open NAME/supervise/lock: symbolic link loop")
    _supervise_dir(make_service(root, "lock-held", RUN))
    kind("lock-held", "unable to acquire NAME/supervise/lock: temporary failure")
    (_supervise_dir(make_service(root, "control-file", RUN)) / "control").write_text("")
    kind("control-file", "unable to open NAME/supervise/control: not a FIFO")
    (_supervise_dir(make_service(root, "control-symlink", RUN)) / "control").symlink_to(canary)
    kind("control-symlink", "unable to open NAME/supervise/control: a symbolic link, not a FIFO")
    (_supervise_dir(make_service(root, "control-directory", RUN)) / "control").mkdir()
    kind("control-directory", "unable to open NAME/supervise/control: is a directory")
    (_supervise_dir(make_service(root, "ok-file", RUN)) / "ok").write_text("")
    kind("ok-file", "unable to create NAME/supervise/ok: not a FIFO")
    kind("proc-fdinfo", "unable to open NAME/supervise: ").symlink_to("/proc/self/fdinfo")
    # --- status files that cannot be written, or are traps -----------------------------
    (_supervise_dir(make_service(root, "status-directory", RUN)) / "status").mkdir()
    kind("status-directory", "unable to write NAME/supervise/status: is a directory", runs=True)
    (_supervise_dir(make_service(root, "pid-directory", RUN)) / "pid").mkdir()
    kind("pid-directory", "unable to write NAME/supervise/pid: is a directory", runs=True)
    (_supervise_dir(make_service(root, "status-symlink", RUN)) / "status").symlink_to(canary)
    kind("status-symlink", None, runs=True)
    supervise = _supervise_dir(make_service(root, "status-new-planted", RUN))
    (supervise / "status.new").symlink_to(canary)
    kind("status-new-planted", None, runs=True)
    # --- setting files holding garbage: defaults used ------------------------------------
    make_service(root, "notification-fd-garbage", RUN, notification_fd="banana\n")
    kind("notification-fd-garbage", "NAME/notification-fd: not a file descriptor from 3 to "
         "1024: 'banana'; using the default", runs=True)
    make_service(root, "notification-fd-oversized", RUN, notification_fd="3" * 300)
    kind("notification-fd-oversized", "NAME/notification-fd: more than 256 bytes; using the "
         "default", runs=True)
    (make_service(root, "notification-fd-directory", RUN) / "notification-fd").mkdir()
    kind("notification-fd-directory", "unable to read NAME/notification-fd: is a directory",
         runs=True)
    make_service(root, "timeout-kill-garbage", RUN, timeout_kill="-5 soon\n")
    kind("timeout-kill-garbage", "NAME/timeout-kill: not a number of milliseconds: '-5 soon'; "
         "using the default", runs=True)
    make_service(root, "down-signal-garbage", TELLS_SIGNAL, down_signal="SIGBOGUS\n")
    kind("down-signal-garbage", "NAME/down-signal: not a signal name: 'SIGBOGUS'; using the "
         "default", runs=True)
    make_service(root, "timeout-finish-garbage", "echo $$ >> starts; exit 1",
                 finish="exit 0", timeout_finish="soon")
    kind("timeout-finish-garbage", "NAME/timeout-finish: not a number of milliseconds: 'soon'; "
         "using the default", runs=True)
    service = make_service(root, "finish-bad-interpreter", "echo $$ >> starts; exit 1")
    (service / "finish").write_text("#!/nonexistent/sh\n")
    (service / "finish").chmod(0o755)
    kind("finish-bad-interpreter", "unable to start NAME/finish: file does not exist", runs=True)
    # --- services that misbehave ---------------------------------------------------------
    make_service(root, "crash-loop", "echo $$ >> starts; exit 1")
    kind("crash-loop", None, runs=True)
    make_service(root, "closes-stdio", "exec <&- >&- 2>&-; " + RUN)
    kind("closes-stdio", None, runs=True)
    make_service(root, "forks-and-exits", "echo $$ >> starts; sleep 1 & echo $! >> orphans; exit 0")
    kind("forks-and-exits", None, runs=True)
    # --- loggers ---------------------------------------------------------------------------
    (make_service(root, "log-file", RUN) / "log").write_text("not a logger\n")
    kind("log-file", None, runs=True)
    (make_service(root, "log-no-run", RUN) / "log").mkdir()
    kind("log-no-run", "unable to start NAME/log/run: file does not exist", runs=True)
    service = make_service(root, "log-supervise-file", RUN)
    (make_service(service, "log", "exec cat > /dev/null") / "supervise").write_text("")
    kind("log-supervise-file", "unable to open NAME/log/supervise: not a directory", runs=True)
    (make_service(root, "down-directory", RUN) / "down").mkdir()
    kind("down-directory", None)
    # --- names -----------------------------------------------------------------------------
    kind("nl\nno-run", start + "file does not exist").mkdir()
    kind(os.fsdecode(b"bad\xff-no-run"), start + "file does not exist").mkdir()
    make_service(root, "nl\nok", RUN)
    kind("nl\nok", None, runs=True)
    make_service(root, os.fsdecode(b"ok\xfe"), RUN)
    kind(os.fsdecode(b"ok\xfe"), None, runs=True)
    # --- root entries that are not directories -----------------------------------------------
    kind("dangling", "unable to stat dangling: file does not exist").symlink_to(
        outside / "nothing-here")
    kind("loop-a", "unable to stat loop-a: symbolic link loop").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    return kinds, canary


def said_text(kind: Kind) -> str:
    assert kind.said is not None
    return kind.said.replace("NAME", shown(kind.name))


def warnings(daemon: Daemon) -> str:
    """The daemon's warning and fatal lines (services' own output and dumps left out)."""
    keep = ("svscan: warning: ", "svscan: fatal: ")
    text = daemon.stderr()
    # a raw newline inside a name splits its line: keep the continuation with its line
    lines = re.split(r"\n(?=svscan: |\Z)", text)
    return "\n".join(line for line in lines if line.startswith(keep))


def starts(service: Path) -> list[int]:
    path = service / "starts"
    return [int(word) for word in path.read_text().split()] if path.exists() else []


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Hold ``supervise/lock`` of a directory from this process, as another supervisor would."""
    fds: list[int] = []

    def hold(service: Path) -> None:
        fd = os.open(service / "supervise" / "lock", os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fds.append(fd)

    yield hold
    for fd in fds:
        os.close(fd)


async def test_catalogue_of_broken_directories(
    tmp_path: Path, start_svscan: Any, held_lock: Callable[[Path], None]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    kinds, canary = build_catalogue(root, tmp_path)
    assert len({kind.name for kind in kinds}) == len(kinds) >= 40
    good = [make_service(root, name, RUN) for name in ("good-a", "good-b")]
    held_lock(root / "lock-held")
    began = time.monotonic()
    daemon = start_svscan(root, "-s")
    pids = [(await started(service)).pid for service in good]

    # every fault is said (the ones read at `d` are made to happen first)
    for name in ("timeout-kill-garbage", "down-signal-garbage"):
        service = root / name
        old = (await started(service)).pid
        await eventually(lambda s=service, p=old: p in starts(s), what=f"{name} ready for d")
        send(service, b"d")
        await eventually(lambda s=service: read_status(s).pid == 0, what=f"{name} down on TERM")
        assert not pid_alive(old)
        send(service, b"u")
    assert (root / "down-signal-garbage" / "got").read_text() == "TERM\n"
    said = [kind for kind in kinds if kind.said is not None]
    for kind in said:
        await eventually(lambda k=kind: said_text(k) in warnings(daemon), what=said_text(kind))
    for kind in kinds:
        if kind.runs:
            await eventually(lambda k=kind: starts(root / k.name), what=f"{kind.name!r} ran")
        elif kind.name not in ("dangling", "loop-a", "proc-fdinfo", "down-directory"):
            assert not starts(root / kind.name), kind.name
    # garbage in a setting: the service runs with the default, and a restart says nothing new
    notify = root / "notification-fd-garbage"
    first = (await started(notify)).pid
    send(notify, b"k")
    await eventually(lambda: read_status(notify).pid not in (0, first), what="restarted")
    assert not read_extra(notify).flags & ExtraFlag.NOTIFY  # no readiness pipe was given
    for name in ("timeout-kill-garbage", "down-signal-garbage"):
        await started(root / name)
    # a `down` directory is a down file: down, normally down; `u` starts it
    down = root / "down-directory"
    await eventually(lambda: supervisor_listening(down), what="down-directory taken")
    record = read_status(down)
    assert (record.pid, record.want) == (0, Want.DOWN)
    assert ": down " in client("svstat", down).stdout
    assert "normally up" not in client("svstat", down).stdout  # svstat stats `down` too
    send(down, b"u")
    await started(down)
    assert ", normally down" in client("svstat", down).stdout
    # the daemon's own children and their orphans: svscan (-s) is the orphans' parent
    orphans_file = root / "forks-and-exits" / "orphans"

    def orphan_of_svscan() -> bool:
        table = process_table()
        recorded = [int(word) for word in orphans_file.read_text().split()]
        return any(table.get(pid, (0, ""))[0] == daemon.pid for pid in recorded)

    await eventually(orphan_of_svscan, what="an orphan reparented to svscan")

    # warm-up over: memory from now on must stay flat while everything keeps retrying
    await trio.sleep(max(0.0, began + 4.0 - time.monotonic()))
    before = memory_kib(daemon.pid)
    for _ in range(ALARMS):
        daemon.signal(signal.SIGALRM)
        await trio.sleep(0.1)
    await trio.sleep(max(0.0, began + RETRYING - time.monotonic()))
    after = memory_kib(daemon.pid)
    seen = {field: (before[field], after[field]) for field in ("Rss", "Pss", "Anonymous")}
    for field in ("Rss", "Anonymous"):  # PSS also moves with other processes sharing pages
        assert after[field] - before[field] < MEMORY_BOUND_KIB, f"KiB before, after: {seen}"

    # still alive and answering, and every fault said once (the held lock: once per retake)
    elapsed = time.monotonic() - began
    assert daemon.process.poll() is None
    assert client("svok", good[0]).returncode == 0
    text = warnings(daemon)
    for kind in said:
        expected = 1 + int(elapsed / RETAKE_DELAY) if kind.name == "lock-held" else 1
        count = text.count(said_text(kind))
        assert 1 <= count <= expected, (kind.name, count, text)
        if "\n" not in kind.name:
            lines = [line for line in text.splitlines() if f" {shown(kind.name)}" in line]
            assert len(lines) == count, (kind.name, lines)
    for kind in kinds:
        if kind.said is None and "\n" not in kind.name:
            assert not re.search(rf"[ ]{re.escape(shown(kind.name))}[/:]", text), (kind.name, text)
    assert "is gone" not in daemon.stderr()
    # a crash loop is restarted at most once a second
    elapsed = time.monotonic() - began
    for name in ("crash-loop", "timeout-finish-garbage", "finish-bad-interpreter"):
        count = len(starts(root / name))
        assert 3 <= count <= elapsed + 2, (name, count)
    # the canary was never written, locked or replaced
    assert canary.read_text() == CANARY_TEXT and not canary.is_symlink()
    probe = os.open(canary, os.O_RDONLY)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it
    finally:
        os.close(probe)
    assert not (root / "status-symlink" / "supervise" / "status").is_symlink()
    assert read_status(root / "status-symlink").pid == starts(root / "status-symlink")[0]
    # the services that run in spite of a fault are alive, once each
    for name in ("status-directory", "pid-directory", "closes-stdio", "log-file", "log-no-run",
                 "log-supervise-file", "nl\nok", os.fsdecode(b"ok\xfe"), "status-new-planted",
                 "notification-fd-oversized", "notification-fd-directory"):
        [pid] = starts(root / name)
        assert pid_alive(pid), name
    assert len(starts(notify)) == 2
    # orphans were reaped: none of those recorded (each lived 1 s) is left a zombie
    recorded = [int(word) for word in orphans_file.read_text().split()]
    assert len(recorded) >= 3

    def no_zombies() -> bool:
        table = process_table()
        if any(table.get(pid, (0, ""))[1] == "Z" for pid in recorded[:-2]):
            return False
        return "Z" not in descendants().values()

    await eventually(no_zombies, what="no zombie among pytest's descendants")
    # the good services kept their first pid all along, and still obey
    for service, pid in zip(good, pids, strict=True):
        assert starts(service) == [pid] and read_status(service).pid == pid
    await good_services_obey(good, pids)
    closes = root / "closes-stdio"
    [old] = starts(closes)
    send(closes, b"k")
    await eventually(lambda: read_status(closes).pid not in (0, old), what="closes-stdio again")
    assert daemon.process.poll() is None


async def good_services_obey(good: list[Path], pids: list[int]) -> None:
    """`k` restarts each (one through our svc), `d` brings it down, `u` up again."""
    assert client("svc", "-k", good[0]).returncode == 0
    send(good[1], b"k")
    fresh = []
    for service, pid in zip(good, pids, strict=True):
        await eventually(lambda s=service, p=pid: read_status(s).pid not in (0, p),
                         what=f"{service.name} restarted")
        fresh.append(read_status(service).pid)
        send(service, b"d")
    for service, pid in zip(good, fresh, strict=True):
        await eventually(lambda s=service: read_status(s).pid == 0, what=f"{service.name} down")
        assert not pid_alive(pid)
        send(service, b"u")
    for service in good:
        await started(service)
        assert read_status(service).run_state is RunState.RUN


# --- unreadable directories: root reads anything, so svscan runs as nobody --------------------

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def nobody_root() -> Iterator[Path]:
    """A scan root nobody can use: under /tmp (tmp_path's parents are root's alone)."""
    top = Path(tempfile.mkdtemp(prefix="bad-input-", dir="/tmp"))
    try:
        top.chmod(0o755)
        yield top
    finally:
        shutil.rmtree(top)


def _give_to_nobody(path: Path) -> None:
    for where, dirs, files in os.walk(path):
        for name in [".", *dirs, *files]:
            os.chown(os.path.join(where, name), 65534, 65534, follow_symlinks=False)


async def test_unreadable_directories_as_nobody(nobody_root: Path, start_daemon: Any) -> None:
    """Mode 000 and root-owned directories stop an unprivileged svscan, with one line each.

    ================  ===================================  ==================================
    directory         what is broken                       said
    ================  ===================================  ==================================
    dir-000           the service directory is mode 000    unable to open dir-000: access
                                                           denied
    supervise-000     supervise/ is root's, mode 000       unable to open
                                                           supervise-000/supervise: access
                                                           denied
    supervise-ro      supervise/ is root's, mode 0755      unable to open
                                                           supervise-ro/supervise/lock:
                                                           access denied
    service-ro        the service directory is root's,     unable to open service-ro/supervise:
                      mode 0755, no supervise/ yet         access denied
    ================  ===================================  ==================================
    """
    root = nobody_root / "root"
    root.mkdir()
    good = make_service(root, "good", RUN)
    broken = [make_service(root, name, RUN)
              for name in ("dir-000", "supervise-000", "supervise-ro", "service-ro")]
    _give_to_nobody(nobody_root)
    for name in ("supervise-000", "supervise-ro"):
        (root / name / "supervise").mkdir()
    os.chown(root / "service-ro", 0, 0)
    (root / "supervise-000" / "supervise").chmod(0)
    (root / "dir-000").chmod(0)
    expected = {
        "dir-000": "unable to open dir-000: access denied",
        "supervise-000": "unable to open supervise-000/supervise: access denied",
        "supervise-ro": "unable to open supervise-ro/supervise/lock: access denied",
        "service-ro": "unable to open service-ro/supervise: access denied",
    }
    began = time.monotonic()
    daemon = start_daemon(root, program=[*NOBODY, *SVSCAN])
    pid = (await started(good)).pid
    assert os.stat(f"/proc/{daemon.pid}").st_uid == 65534
    for text in expected.values():
        await eventually(lambda t=text: t in warnings(daemon), what=text)
    await trio.sleep(max(0.0, began + 3.5 - time.monotonic()))  # retried at 1 s and 3 s
    daemon.signal(signal.SIGALRM)
    text = warnings(daemon)
    for service in broken:
        lines = [line for line in text.splitlines() if f" {service.name}" in line]
        assert lines == [f"svscan: warning: {expected[service.name]}"], text
        assert not starts(service)
    assert read_status(good).pid == pid and starts(good) == [pid]
    send(good, b"k")
    await eventually(lambda: read_status(good).pid not in (0, pid), what="good restarted")
    assert daemon.process.poll() is None


# --- faults found by this catalogue, now fixed --------------------------------------------------


async def test_newline_in_a_name_stays_on_one_line(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    make_service(root, "good", RUN)
    (root / "evil\nsvscan: fatal: forged").mkdir()
    daemon = start_svscan(root)
    await started(root / "good")
    await eventually(lambda: "forged/run" in daemon.stderr(), what="the line about it")
    lines = daemon.stderr().splitlines()
    assert not [line for line in lines if line.startswith("svscan: fatal: forged")], lines
    [line] = [line for line in lines if "forged/run" in line]
    assert line.startswith("svscan: warning: unable to start evil"), line


async def test_unwritable_pid_file_does_not_hide_the_status(
    tmp_path: Path, start_svscan: Any
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    service = make_service(root, "pid-directory", RUN)
    (_supervise_dir(service) / "pid").mkdir()
    daemon = start_svscan(root)
    await eventually(lambda: starts(service), what="./run started")
    await eventually(lambda: "pid-directory" in warnings(daemon), what="the line")
    record = await started(service, timeout=1.0)
    assert record.pid == starts(service)[0]
    assert "unable to write pid-directory/supervise/pid: is a directory" in warnings(daemon)


async def test_dangling_symlink_in_the_root_is_said(tmp_path: Path, start_svscan: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    make_service(root, "good", RUN)
    (root / "dangling").symlink_to(tmp_path / "nothing-here")
    daemon = start_svscan(root)
    await started(root / "good")
    daemon.signal(signal.SIGALRM)
    await eventually(lambda: "dangling" in warnings(daemon), timeout=1.0, what="a line")


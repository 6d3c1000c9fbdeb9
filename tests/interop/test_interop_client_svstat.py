"""Our ``svstat`` against Debian's ``/usr/bin/svstat``: the same directories, the same stdout.

Both programs are run on the same arguments from the same directory, one right
after the other, and their (exit code, stdout, stderr) must be identical. The
seconds in a line tick, so a pair only counts if both ran within one wall-clock
second (`svstat_pair` retries until they did); then the comparison is byte for
byte, pids and seconds included. Debian's output must also show the state the
case is about (normalised: ``(pid P)``, ``N seconds``), so a case where both
agree on the wrong thing fails too.

Directories come from real supervisors (Debian's ``supervise`` and ``runsv``
through the ``peers`` fixture, our daemon through ``start_daemon``, driven by
Debian's ``svc``) and from hand-made ``supervise/`` directories whose ``ok``
FIFO the test holds open for reading (a legitimate "supervisor listening") so
that any 18- or 20-byte status can be shown, including states no real
supervisor holds long enough to be seen.

Our svstat appends what daemontools cannot say (``, exited 0``, ``, killed by
SIGTERM``, ``, ready N seconds``) for our daemon's directories only when it
applies; the states compared against our daemon are those where it does not,
and `test_svstat_extras_follow_debian_line_for_our_daemon` checks that with an
extra the line is Debian's line with the extra after it.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from interop.interop_support import (
    PeerSupervisors,
    release,
    run_client,
    status_bytes,
    status_pid,
    svc,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import IGNORE_TERM_RUN, client, eventually, make_service, peer, pid_alive

Result = tuple[int, str, str]

#: Tries at running both programs within one wall-clock second.
SAME_SECOND_ATTEMPTS = 20
#: TAI64 label of Unix second 0 (daemontools and runit).
TAI_EPOCH = 0x400000000000000A


def _outcome(result: subprocess.CompletedProcess[str]) -> Result:
    return result.returncode, result.stdout, result.stderr


def svstat_pair(*args: str | Path, cwd: Path) -> tuple[Result, Result]:
    """Debian's svstat, then ours, on the same arguments, both within one wall-clock second."""
    for _ in range(SAME_SECOND_ATTEMPTS):
        second = int(time.time())
        theirs = _outcome(run_client([peer("svstat"), *map(str, args)], cwd=cwd))
        ours = _outcome(client("svstat", *args, cwd=cwd))
        if int(time.time()) == second:
            return theirs, ours
    raise AssertionError(f"svstat {args}: never ran both within one second")


def _shows(stdout: str, expect: str) -> bool:
    """`stdout` is `expect`, where ``(pid P)`` stands for any pid and ``N`` for any seconds."""
    pattern = re.escape(expect).replace(r"\(pid\ P\)", r"\(pid\ \d+\)")
    pattern = pattern.replace(r"N\ seconds", r"\d+\ seconds")
    return re.fullmatch(pattern, stdout) is not None


def check_same(*args: str | Path, cwd: Path, expect: str) -> str:
    """Debian's svstat prints `expect` (see `_shows`) and ours exactly the same; the output."""
    theirs, ours = svstat_pair(*args, cwd=cwd)
    assert theirs[0] == 0 and theirs[2] == "" and _shows(theirs[1], expect), (
        f"Debian's svstat {list(map(str, args))}: {theirs!r}, expected {expect!r}"
    )
    assert ours == theirs, (
        f"svstat {list(map(str, args))}: Debian {theirs!r}, ours {ours!r}"
    )
    return theirs[1]


async def same(*args: str | Path, cwd: Path, expect: str) -> str:
    """`check_same`, once the directories have got to the state Debian's svstat must show."""
    result = await eventually(
        lambda: check_same(*args, cwd=cwd, expect=expect), what=f"svstat {args}: {expect!r}"
    )
    assert isinstance(result, str)
    return result


def status_record(
    age: int, pid: int, paused: int = 0, want: bytes = b"u", tail: bytes = b""
) -> bytes:
    """An 18-byte daemontools status (plus `tail`, e.g. runit's two bytes) stamped `age` s ago."""
    label = TAI_EPOCH + int(time.time()) - age
    return (
        struct.pack(">QL", label, 123456500) + struct.pack("<L", pid)
        + bytes([paused]) + want + tail
    )


@pytest.fixture
def hold() -> Iterator[Callable[[Path], None]]:
    """Make a FIFO and hold its read end open (a supervisor listening); closed at teardown."""
    fds: list[int] = []

    def hold_fifo(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        fds.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))

    try:
        yield hold_fifo
    finally:
        for fd in fds:
            os.close(fd)


def listening_dir(
    hold: Callable[[Path], None], root: Path, name: str, status: bytes | None, down: bool = False
) -> Path:
    """`root/name` with a held ``supervise/ok`` and `status` as ``supervise/status``."""
    service = root / name
    hold(service / "supervise" / "ok")
    if status is not None:
        (service / "supervise" / "status").write_bytes(status)
    if down:
        (service / "down").write_text("")
    return service


async def start(
    supervisor: str, service: Path, peers: PeerSupervisors, start_daemon: Any
) -> Any:
    """Start `supervisor` (``supervise``, ``runsv`` or ``ours``) on `service`; its process."""
    if supervisor == "ours":
        return start_daemon(service)
    return peers.start(supervisor, service)


# --- hand-made directories: every status daemontools' svstat can print ------------------

def _fixed(data: bytes) -> Callable[[], bytes]:
    return lambda: data


#: (id, makes the status record when the test runs, down file, Debian's line after "a: ")
CONSTRUCTED: list[tuple[str, Callable[[], bytes], bool, str]] = [
    ("down-want-up", partial(status_record, 100, 0), False,
     "down N seconds, normally up, want up"),
    ("down-want-up-normally-down", partial(status_record, 100, 0), True,
     "down N seconds, want up"),
    ("down-want-down", partial(status_record, 100, 0, want=b"d"), False,
     "down N seconds, normally up"),
    ("down-want-down-normally-down", partial(status_record, 100, 0, want=b"d"), True,
     "down N seconds"),
    ("down-want-none", partial(status_record, 100, 0, want=b"\0"), False,
     "down N seconds, normally up"),
    ("down-paused-byte-runit", partial(status_record, 100, 0, 1, b"d", b"\0\0"), False,
     "down N seconds, normally up"),
    ("up", partial(status_record, 100, 4242), False,
     "up (pid 4242) N seconds"),
    ("up-normally-down", partial(status_record, 100, 4242), True,
     "up (pid 4242) N seconds, normally down"),
    ("up-paused", partial(status_record, 100, 4242, 1), False,
     "up (pid 4242) N seconds, paused"),
    ("up-want-down", partial(status_record, 100, 4242, want=b"d"), False,
     "up (pid 4242) N seconds, want down"),
    ("up-want-none", partial(status_record, 100, 4242, want=b"\0"), False,
     "up (pid 4242) N seconds"),
    ("up-everything", partial(status_record, 100, 4242, 1, b"d"), True,
     "up (pid 4242) N seconds, normally down, paused, want down"),
    ("runit-20-bytes-got-term", partial(status_record, 7, 4242, 0, b"d", b"\1\1"), False,
     "up (pid 4242) N seconds, want down"),
    ("largest-pid", partial(status_record, 3, 0xFFFFFFFF), False,
     "up (pid 4294967295) N seconds"),
    ("long-ago", partial(status_record, 10**8, 1), False,
     "up (pid 1) N seconds"),
    ("stamp-in-future", partial(status_record, -1000, 0), False,
     "down 0 seconds, normally up, want up"),
    ("just-now", partial(status_record, 0, 77), False,
     "up (pid 77) 0 seconds"),
    ("empty", _fixed(b""), False,
     "unable to read supervise/status: bad format"),
    ("17-bytes", lambda: status_record(1, 1)[:17], False,
     "unable to read supervise/status: bad format"),
    ("text", _fixed(b"short"), False,
     "unable to read supervise/status: bad format"),
]


@pytest.mark.parametrize(
    ("make", "down", "line"),
    [pytest.param(make, down, line, id=name) for name, make, down, line in CONSTRUCTED],
)
async def test_svstat_same_for_constructed_status(
    tmp_path: Path, hold: Callable[[Path], None], make: Callable[[], bytes], down: bool, line: str
) -> None:
    """A status file written by hand, ``ok`` held open: the same line from both, byte for byte.

    The record is rewritten before each try: "just now" must still be 0 seconds old.
    """
    service = listening_dir(hold, tmp_path, "a", None, down)

    def attempt() -> str:
        (service / "supervise" / "status").write_bytes(make())
        return check_same("a", cwd=tmp_path, expect=f"a: {line}\n")

    await eventually(attempt, what=f"svstat a: {line!r}")


async def test_svstat_same_without_status_file(
    tmp_path: Path, hold: Callable[[Path], None]
) -> None:
    """A listening ``ok`` but no ``status``: the open error."""
    listening_dir(hold, tmp_path, "a", None)
    expect = "a: unable to open supervise/status: file does not exist\n"
    check_same("a", cwd=tmp_path, expect=expect)


@pytest.mark.parametrize("before", [[], ["valid"], ["valid", "nonexist"]])
async def test_svstat_says_why_when_status_read_fails(
    tmp_path: Path, hold: Callable[[Path], None], before: list[str]
) -> None:
    """``supervise/status`` opens but cannot be read (it is a directory: EISDIR).

    Our one deliberate difference from Debian's svstat, which compares
    read(2)'s -1 with ``sizeof status`` as unsigned, so a read error counts as
    a full read and it prints whatever is in its 18-byte buffer: zeros ("down
    4611686020... seconds") for the first directory, else the record of the
    last directory it read in the same call, another service's state under this
    one's name. Ours names the fault; every other line is the same.
    """
    listening_dir(hold, tmp_path, "valid", status_record(50, 999, 1, b"d"))
    (tmp_path / "b" / "supervise" / "status").mkdir(parents=True)
    hold(tmp_path / "b" / "supervise" / "ok")
    lines = {
        "valid": "valid: up (pid 999) N seconds, normally down, paused, want down\n",
        "nonexist": "nonexist: unable to chdir: file does not exist\n",
    }
    (tmp_path / "valid" / "down").write_text("")
    common = "".join(lines[name] for name in before)
    garbage = "b: up (pid 999) N seconds, paused, want down\n" if before else (
        "b: down N seconds, normally up\n"
    )
    theirs, ours = svstat_pair(*before, "b", cwd=tmp_path)
    assert theirs[0] == 0 and _shows(theirs[1], common + garbage), theirs
    assert ours == (0, theirs[1].removesuffix(theirs[1].splitlines(True)[-1])
                    + "b: unable to read supervise/status: is a directory\n", ""), ours


# --- directories without a listening supervisor -------------------------------------------


async def test_svstat_same_for_directories_without_supervisor(tmp_path: Path) -> None:
    """No reader on ``ok``; no ``supervise/``, no ``ok``, no directory, not a directory..."""
    make_service(tmp_path, "norun", "exec sleep 1000")
    (tmp_path / "norun" / "supervise").mkdir()
    os.mkfifo(tmp_path / "norun" / "supervise" / "ok")
    (tmp_path / "norun" / "supervise" / "status").write_bytes(status_record(5, 1))
    make_service(tmp_path, "nosup", "exec sleep 1000")
    (tmp_path / "nook" / "supervise").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    (tmp_path / "okdir" / "supervise" / "ok").mkdir(parents=True)
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "down").symlink_to("down")
    cases = {
        "norun": "supervise not running",
        "nosup": "unable to open supervise/ok: file does not exist",
        "nook": "unable to open supervise/ok: file does not exist",
        "nonexist": "unable to chdir: file does not exist",
        "file": "unable to chdir: not a directory",
        "okdir": "unable to open supervise/ok: is a directory",
        "loop": "unable to stat down: symbolic link loop",
    }
    for name, text in cases.items():
        check_same(name, cwd=tmp_path, expect=f"{name}: {text}\n")
        check_same(tmp_path / name, cwd=tmp_path, expect=f"{tmp_path / name}: {text}\n")
    check_same(
        *cases, cwd=tmp_path, expect="".join(f"{name}: {text}\n" for name, text in cases.items())
    )


async def test_svstat_same_without_arguments(tmp_path: Path) -> None:
    """No arguments: nothing printed, exit 0."""
    assert check_same(cwd=tmp_path, expect="") == ""


async def test_svstat_same_for_several_directories(
    tmp_path: Path, hold: Callable[[Path], None]
) -> None:
    """Every kind of directory in one call, relative, absolute, repeated and with a slash."""
    listening_dir(hold, tmp_path, "up", status_record(9, 31337, want=b"d"), down=True)
    listening_dir(hold, tmp_path, "down", status_record(2, 0))
    listening_dir(hold, tmp_path, "short", b"\0" * 10)
    (tmp_path / "norun" / "supervise").mkdir(parents=True)
    os.mkfifo(tmp_path / "norun" / "supervise" / "ok")
    (tmp_path / "nosup").mkdir()
    args = ["up", "down", "short", "norun", "nosup", "nonexist", str(tmp_path / "up"), "down/",
            "up"]
    expect = (
        "up: up (pid P) N seconds, normally down, want down\n"
        "down: down N seconds, normally up, want up\n"
        "short: unable to read supervise/status: bad format\n"
        "norun: supervise not running\n"
        "nosup: unable to open supervise/ok: file does not exist\n"
        "nonexist: unable to chdir: file does not exist\n"
        f"{tmp_path}/up: up (pid P) N seconds, normally down, want down\n"
        "down/: down N seconds, normally up, want up\n"
        "up: up (pid P) N seconds, normally down, want down\n"
    )
    check_same(*args, cwd=tmp_path, expect=expect)


# --- real supervisors -----------------------------------------------------------------------

SUPERVISORS = ["supervise", "runsv", "ours"]


@pytest.mark.parametrize("supervisor", SUPERVISORS)
async def test_svstat_same_for_normally_up_service(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors, supervisor: str
) -> None:
    """Up, paused, continued, (down and up again: not ours), then exited: the same lines.

    Against our daemon the down state is left out: there our svstat adds how
    the run ended (see the extras test).
    """
    service = make_service(tmp_path, "a", "exec sleep 1000")
    process = await start(supervisor, service, peers, start_daemon)
    try:
        await same("a", cwd=tmp_path, expect="a: up (pid P) N seconds\n")
        first = status_pid(service)
        svc("-p", service)
        await same("a", cwd=tmp_path, expect="a: up (pid P) N seconds, paused\n")
        svc("-c", service)
        await same("a", cwd=tmp_path, expect="a: up (pid P) N seconds\n")
        if supervisor != "ours":
            svc("-d", service)
            await same("a", cwd=tmp_path, expect="a: down N seconds, normally up\n")
            svc("-u", service)
            await same("a", cwd=tmp_path, expect="a: up (pid P) N seconds\n")
            assert status_pid(service) != first
        await same(service, cwd=tmp_path, expect=f"{service}: up (pid P) N seconds\n")
        svc("-dx", service)
        await same("a", cwd=tmp_path, expect="a: supervise not running\n")
        assert process.wait() == 0
    finally:
        if supervisor == "ours":
            release(service)


@pytest.mark.parametrize("supervisor", SUPERVISORS)
async def test_svstat_same_for_normally_down_service_ignoring_term(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors, supervisor: str
) -> None:
    """Down from the start (``down`` file), up by ``svc -u``, want down, paused: the same lines."""
    service = make_service(tmp_path, "b", IGNORE_TERM_RUN, down="")
    await start(supervisor, service, peers, start_daemon)
    try:
        await same("b", cwd=tmp_path, expect="b: down N seconds\n")
        svc("-u", service)
        await same("b", cwd=tmp_path, expect="b: up (pid P) N seconds, normally down\n")
        await eventually(lambda: (service / "term-ignored").exists(), what="TERM trap set")
        svc("-d", service)
        await same("b", cwd=tmp_path, expect="b: up (pid P) N seconds, normally down, want down\n")
        svc("-p", service)
        await same(
            "b", cwd=tmp_path, expect="b: up (pid P) N seconds, normally down, paused, want down\n"
        )
        svc("-c", service)
        await same("b", cwd=tmp_path, expect="b: up (pid P) N seconds, normally down, want down\n")
        assert pid_alive(status_pid(service))
    finally:
        if supervisor == "ours":
            release(service)


async def test_svstat_same_for_runit_states(tmp_path: Path, peers: PeerSupervisors) -> None:
    """runsv's own states: down with want up (between restarts), finish running, after ``o``,
    and paused while down (runit keeps byte 16 set): the same lines from both."""
    restarting = make_service(tmp_path, "restarting", "exit 0")
    finishing = make_service(tmp_path, "finishing", "exec sleep 1000", finish="exec sleep 1000")
    once = make_service(tmp_path, "once", "exec sleep 1000", down="")
    paused = make_service(tmp_path, "paused", "exec sleep 1000", down="")
    for service in (restarting, finishing, once, paused):
        peers.start("runsv", service)

    # runsv sleeps 1 s before restarting a run that lived less than 1 s: down, want up.
    await same(
        "restarting", cwd=tmp_path, expect="restarting: down N seconds, normally up, want up\n"
    )

    await same("finishing", cwd=tmp_path, expect="finishing: up (pid P) N seconds\n")
    run_pid = status_pid(finishing)
    svc("-d", finishing)
    await same("finishing", cwd=tmp_path, expect="finishing: up (pid P) N seconds, want down\n")
    assert status_bytes(finishing)[19] == 2, "runsv is not running ./finish"
    assert status_pid(finishing) != run_pid

    await same("once", cwd=tmp_path, expect="once: down N seconds\n")
    svc("-o", once)
    await same(
        "once", cwd=tmp_path, expect="once: up (pid P) N seconds, normally down, want down\n"
    )

    await same("paused", cwd=tmp_path, expect="paused: down N seconds\n")
    svc("-p", paused)
    await eventually(lambda: status_bytes(paused)[16] == 1, what="runsv's paused byte")
    await same(
        "finishing", "once", "paused", "nonexist", cwd=tmp_path,
        expect="finishing: up (pid P) N seconds, want down\n"
        "once: up (pid P) N seconds, normally down, want down\n"
        "paused: down N seconds\n"
        "nonexist: unable to chdir: file does not exist\n",
    )


async def test_svstat_same_for_every_supervisor_in_one_call(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors
) -> None:
    """supervise, runsv and our daemon (no notification-fd) in one call, with errors between."""
    services = {name: make_service(tmp_path, name, "exec sleep 1000") for name in SUPERVISORS}
    for name, service in services.items():
        await start(name, service, peers, start_daemon)
    (tmp_path / "nosup").mkdir()
    try:
        await same(
            "supervise", "nosup", "runsv", "nonexist", services["ours"], cwd=tmp_path,
            expect="supervise: up (pid P) N seconds\n"
            "nosup: unable to open supervise/ok: file does not exist\n"
            "runsv: up (pid P) N seconds\n"
            "nonexist: unable to chdir: file does not exist\n"
            f"{services['ours']}: up (pid P) N seconds\n",
        )
    finally:
        release(services["ours"])


# --- our daemon's extras --------------------------------------------------------------------


def check_extra(name: str, cwd: Path, expect: str, extra: str) -> bool:
    """Debian's svstat prints `expect`; ours prints Debian's line, then `extra` (a regex).

    Raises AssertionError otherwise (so `eventually` tries again); True when it holds.
    """
    theirs, ours = svstat_pair(name, cwd=cwd)
    assert theirs[0] == 0 and theirs[2] == "" and _shows(theirs[1], expect), (
        f"Debian's svstat {name}: {theirs!r}, expected {expect!r}"
    )
    assert (ours[0], ours[2]) == (theirs[0], theirs[2]), f"Debian {theirs!r}, ours {ours!r}"
    line = theirs[1].removesuffix("\n")
    assert ours[1].startswith(line), f"ours {ours[1]!r} does not start with Debian's {line!r}"
    assert ours[1].endswith("\n")
    rest = ours[1][len(line):-1]
    assert re.fullmatch(extra, rest), f"ours {ours[1]!r}: after Debian's line {rest!r}, not {extra}"
    return True


async def test_svstat_extras_follow_debian_line_for_our_daemon(
    tmp_path: Path, start_daemon: Any
) -> None:
    """Where our svstat says more (how the run ended, readiness), its line starts with Debian's."""
    killed = make_service(tmp_path, "killed", "exec sleep 1000")
    exited = make_service(tmp_path, "exited", "exit 0", down="")
    ready = make_service(
        tmp_path, "ready", "echo >&3; exec sleep 1000", notification_fd="3"
    )
    start_daemon(killed, exited, ready)
    try:
        await same("killed", cwd=tmp_path, expect="killed: up (pid P) N seconds\n")
        svc("-d", killed)
        await eventually(
            lambda: check_extra(
                "killed", tmp_path, "killed: down N seconds, normally up\n", r", killed by SIGTERM"
            ),
            what="killed: extra after Debian's line",
        )

        await same("exited", cwd=tmp_path, expect="exited: down N seconds\n")
        svc("-o", exited)
        await eventually(
            lambda: check_extra("exited", tmp_path, "exited: down N seconds\n", r", exited 0"),
            what="exited: extra after Debian's line",
        )

        await eventually(
            lambda: check_extra(
                "ready", tmp_path, "ready: up (pid P) N seconds\n", r", ready \d+ seconds"
            ),
            what="ready: extra after Debian's line",
        )
    finally:
        for service in (killed, exited, ready):
            release(service)

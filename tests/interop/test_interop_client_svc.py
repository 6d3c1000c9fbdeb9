"""Our ``svc`` against Debian's ``/usr/bin/svc``, and our ``svc`` driving Debian's supervisors.

First the client alone: both programs run on the same arguments from the same
directory must give the same exit code and stderr (only a usage error may
differ, and only by lines after daemontools' two), and must write exactly
the same bytes to ``supervise/control``. For the bytes, ``control`` is a FIFO
whose read end the test holds (non-blocking), drained after each run.

Then our svc controlling real supervisors: Debian's ``supervise`` and
``runsv`` (``peers`` fixture), with Debian's ``svstat`` as the witness, and
``s6-supervise`` (started and killed by pid here), with ``s6-svstat`` as the
witness.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from interop.interop_support import (
    PeerSupervisors,
    normalise,
    peer_up,
    proc_state,
    run_client,
    status_pid,
    svstat,
)
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import client, eventually, make_service, peer, pid_alive

Result = tuple[int, str, str]

#: daemontools' usage, the two lines our svc must start its usage with.
OPTIONS_LINE = (
    "svc options: u up, d down, o once, x exit, p pause, c continue,"
    " h hup, a alarm, i interrupt, t term, k kill\n"
)


def _outcome(result: subprocess.CompletedProcess[str]) -> Result:
    return result.returncode, result.stdout, result.stderr


def debian_svc(*args: str | Path, cwd: Path) -> Result:
    return _outcome(run_client([peer("svc"), *map(str, args)], cwd=cwd))


def our_svc(*args: str | Path, cwd: Path | None = None) -> Result:
    return _outcome(client("svc", *args, cwd=cwd))


def svc_both(*args: str | Path, cwd: Path) -> Result:
    """Debian's svc and ours on the same arguments: the same outcome. Debian's."""
    theirs = debian_svc(*args, cwd=cwd)
    ours = our_svc(*args, cwd=cwd)
    assert ours == theirs, f"svc {list(map(str, args))}: Debian {theirs!r}, ours {ours!r}"
    return theirs


def drain(fd: int) -> bytes:
    """Everything waiting in the FIFO whose read end (non-blocking) is `fd`."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


@pytest.fixture
def control() -> Iterator[Callable[[Path], int]]:
    """``DIR/supervise/control`` as a FIFO whose read end the test holds; closed at teardown."""
    fds: list[int] = []

    def listen(service: Path) -> int:
        fifo = service / "supervise" / "control"
        fifo.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(fifo)
        fds.append(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        return fds[-1]

    try:
        yield listen
    finally:
        for fd in fds:
            os.close(fd)


# --- the client alone -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "letter"),
    [
        (["-Z"], "Z"),
        (["-uZ"], "Z"),
        (["-dZu"], "Z"),
        (["-U"], "U"),
        (["-v"], "v"),
        (["-u", "-?"], "?"),
        (["-u", "-d", "-e", "-k"], "e"),
    ],
)
async def test_svc_illegal_option(
    tmp_path: Path, control: Callable[[Path], int], options: list[str], letter: str
) -> None:
    """An illegal option: daemontools' two lines first, exit 100, nothing sent."""
    fd = control(tmp_path / "a")
    theirs = debian_svc(*options, "a", cwd=tmp_path)
    assert drain(fd) == b""
    ours = our_svc(*options, "a", cwd=tmp_path)
    assert drain(fd) == b""
    assert theirs == (100, "", f"svc: illegal option -- {letter}\n{OPTIONS_LINE}")
    assert (ours[0], ours[1]) == (100, ""), f"ours {ours!r}"
    assert ours[2].splitlines(keepends=True)[:2] == theirs[2].splitlines(keepends=True), (
        f"first two lines of stderr: Debian {theirs[2]!r}, ours {ours[2]!r}"
    )


async def test_svc_no_arguments(tmp_path: Path) -> None:
    """No arguments at all, or options without a directory: nothing said, exit 0."""
    assert svc_both(cwd=tmp_path) == (0, "", "")
    assert svc_both("-u", cwd=tmp_path) == (0, "", "")
    assert svc_both("-dx", "--", cwd=tmp_path) == (0, "", "")


@pytest.mark.parametrize(
    ("make", "warning"),
    [
        pytest.param(lambda d: None, "unable to chdir to {}: file does not exist",
                     id="nonexistent"),
        pytest.param(lambda d: d.write_text(""), "unable to chdir to {}: not a directory",
                     id="not-a-directory"),
        pytest.param(lambda d: d.mkdir(), "unable to control {}: file does not exist",
                     id="no-supervise"),
        pytest.param(lambda d: (d / "supervise").mkdir(parents=True),
                     "unable to control {}: file does not exist", id="no-control"),
        pytest.param(lambda d: (d / "supervise" / "control").mkdir(parents=True),
                     "unable to control {}: is a directory", id="control-is-a-directory"),
        pytest.param(lambda d: _fifo(d / "supervise" / "control"),
                     "unable to control {}: supervise not running", id="control-without-reader"),
    ],
)
async def test_svc_warning_for_one_directory(
    tmp_path: Path, make: Callable[[Path], object], warning: str
) -> None:
    """A directory svc cannot control: the same warning, exit status still 0."""
    make(tmp_path / "a")
    for options in ([], ["-u"], ["-dx"]):
        assert svc_both(*options, "a", cwd=tmp_path) == (
            0, "", f"svc: warning: {warning.format('a')}\n"
        )
    absolute = tmp_path / "a"
    assert svc_both("-k", absolute, cwd=tmp_path) == (
        0, "", f"svc: warning: {warning.format(absolute)}\n"
    )


def _fifo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


async def test_svc_several_directories_mixed(
    tmp_path: Path, control: Callable[[Path], int]
) -> None:
    """Good and bad directories in one call: a warning for each bad one, in order; exit 0;
    the good ones all get the bytes."""
    good = [control(tmp_path / "good1"), control(tmp_path / "good2")]
    (tmp_path / "nosup").mkdir()
    _fifo(tmp_path / "norun" / "supervise" / "control")
    args = ["-ud", "nonexist", "good1", "nosup", "norun", "good2", "nonexist", "good1"]
    expect = (
        "svc: warning: unable to chdir to nonexist: file does not exist\n"
        "svc: warning: unable to control nosup: file does not exist\n"
        "svc: warning: unable to control norun: supervise not running\n"
        "svc: warning: unable to chdir to nonexist: file does not exist\n"
    )
    theirs = debian_svc(*args, cwd=tmp_path)
    their_bytes = [drain(fd) for fd in good]
    ours = our_svc(*args, cwd=tmp_path)
    our_bytes = [drain(fd) for fd in good]
    assert theirs == (0, "", expect)
    assert ours == theirs, f"Debian {theirs!r}, ours {ours!r}"
    assert their_bytes == [b"udud", b"ud"]
    assert our_bytes == their_bytes


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        (["-udduxk"], b"udxk"),
        (["-pc", "-h"], b"pch"),
        (["-t", "-t", "-a"], b"ta"),
        (["-udopchaitkx"], b"udopchaitkx"),
        (["-kxtiahcpodu"], b"kxtiahcpodu"),
        (["-" + "u" * 30, "-ddd"], b"ud"),
        (["-o", "--"], b"o"),
        (["-i", "-", "-u"], b"i"),  # "-" is a directory, and so is "-u" after it
        ([], b""),
    ],
)
async def test_svc_sends_the_same_bytes(
    tmp_path: Path, control: Callable[[Path], int], options: list[str], sent: bytes
) -> None:
    """The bytes written to ``supervise/control`` by both, for the same options."""
    if "-" in options:  # the directories are "-" and "-u", named among the options
        fds = [control(tmp_path / "-"), control(tmp_path / "-u")]
        directories = []
    else:
        fds = [control(tmp_path / "a")]
        directories = ["a"]
    results = []
    for run in (debian_svc, our_svc):
        outcome = run(*options, *directories, cwd=tmp_path)
        results.append((outcome, [drain(fd) for fd in fds]))
    theirs, ours = results
    assert theirs == ((0, "", ""), [sent] * len(fds))
    assert ours == theirs, f"svc {options}: Debian {theirs!r}, ours {ours!r}"


async def test_svc_same_bytes_to_every_directory(
    tmp_path: Path, control: Callable[[Path], int]
) -> None:
    """One call, three directories: each gets the same bytes from both programs."""
    fds = [control(tmp_path / name) for name in ("a", "b", "c")]
    for run in (debian_svc, our_svc):
        outcome = run("-ph", "-c", "a", str(tmp_path / "b"), "c/", cwd=tmp_path)
        assert outcome == (0, "", ""), f"{run.__name__}: {outcome!r}"
        assert [drain(fd) for fd in fds] == [b"phc"] * 3, run.__name__


# --- our svc driving real supervisors ---------------------------------------------------------

HUP_RECORDER = """\
import os, signal

def hup(signum, frame):
    with open("hups", "a") as f:
        f.write(f"{os.getpid()}\\n")

signal.signal(signal.SIGHUP, hup)
with open("ready.new", "w") as f:
    f.write(str(os.getpid()))
os.rename("ready.new", "ready")
while True:
    signal.pause()
"""


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def ours_ok(*args: str | Path) -> None:
    """Our svc, which must exit 0 and say nothing."""
    outcome = our_svc(*args)
    assert outcome == (0, "", ""), f"our svc {args}: {outcome!r}"


@pytest.mark.parametrize("supervisor", ["supervise", "runsv"])
async def test_our_svc_controls_a_real_supervisor(
    tmp_path: Path, peers: PeerSupervisors, supervisor: str
) -> None:
    """``-h`` (trapped and recorded), ``-p``, ``-c``, ``-d``, ``-u``, ``-dx`` by our svc,
    as Debian's svstat and the process itself see them."""
    service = make_service(tmp_path, "a", f"exec {sys.executable} ./hup.py")
    (service / "hup.py").write_text(HUP_RECORDER)
    process = peers.start(supervisor, service)
    first = await peer_up(service)
    await eventually(lambda: _read(service / "ready") == str(first), what="HUP handler set")

    def shows(expect: str) -> Callable[[], bool]:
        return lambda: normalise(svstat(tmp_path, "a")) == f"a: {expect}\n"

    ours_ok("-h", service)
    await eventually(lambda: _read(service / "hups") == f"{first}\n", what="HUP recorded")
    assert status_pid(service) == first and pid_alive(first)

    ours_ok("-p", service)
    await eventually(shows("up (pid P) N seconds, paused"), what="paused")
    await eventually(lambda: proc_state(first) == "T", what="stopped by -p")
    ours_ok("-c", service)
    await eventually(shows("up (pid P) N seconds"), what="continued")
    await eventually(lambda: proc_state(first) not in ("T", "?"), what="continued by -c")

    ours_ok("-d", service)
    await eventually(shows("down N seconds, normally up"), what="down")
    assert not pid_alive(first)
    ours_ok("-u", service)
    await eventually(shows("up (pid P) N seconds"), what="up again")
    second = status_pid(service)
    assert second not in (0, first)
    await eventually(lambda: _read(service / "ready") == str(second), what="restarted")

    ours_ok("-dx", service)
    assert process.wait() == 0, process.output()
    assert svstat(tmp_path, "a") == "a: supervise not running\n"
    assert not pid_alive(second)
    assert _read(service / "hups") == f"{first}\n"


def s6_fields(service: Path) -> str:
    """``s6-svstat -o up,wantedup,paused DIR``: e.g. ``true true false``."""
    result = run_client([peer("s6-svstat"), "-o", "up,wantedup,paused", str(service)])
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout.strip()


async def test_our_svc_controls_s6_supervise(tmp_path: Path, peers: PeerSupervisors) -> None:
    """``-d``, ``-u``, ``-p``, ``-c``, ``-dx`` by our svc, as ``s6-svstat`` sees them;
    then, with s6-supervise gone, the same warning from both svcs."""
    peer("s6-svstat")
    service = make_service(tmp_path, "a", "exec sleep 1000")
    supervisor = peers.start("s6-supervise", service)
    await eventually(lambda: s6_fields(service) == "true true false", what="s6: up")

    ours_ok("-d", service)
    await eventually(lambda: s6_fields(service) == "false false false", what="s6: down")
    ours_ok("-u", service)
    await eventually(lambda: s6_fields(service) == "true true false", what="s6: up again")
    ours_ok("-p", service)
    await eventually(lambda: s6_fields(service) == "true true true", what="s6: paused")
    ours_ok("-c", service)
    await eventually(lambda: s6_fields(service) == "true true false", what="s6: continued")

    ours_ok("-dx", service)
    assert supervisor.wait() == 0, supervisor.output()
    assert svc_both("-u", "a", cwd=tmp_path) == (
        0, "", "svc: warning: unable to control a: supervise not running\n"
    )

"""svlog as a real process: rotation, signals, unclean exits, the lock, a full disk, svscan.

Each test runs ``.venv/bin/svlog`` in tmp_path with its input on a pipe the test
writes (and keeps a copy of the read end, so it can see what svlog left unread), and
waits for what it expects with a deadline, never for a fixed time. Every svlog started
is killed by pid at the end if it is still running.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import signal
import stat
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from support import PATIENCE, eventually, make_service, small_tmpfs, started
from svlog.logger import Logger
from svlog.script import parse
from svlog_golden import GOLDEN, sample

BIN = Path(sys.executable).parent
SVLOG = str(BIN / "svlog")
TAI64NLOCAL = str(BIN / "tai64nlocal")
LABELLED = re.compile(rb"@[0-9a-f]{24} (.*)")


def wait_until(check: Callable[[], object], what: str, timeout: float = PATIENCE) -> None:
    """Poll `check` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            if check():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Svlog:
    """One svlog process reading a pipe this test writes (its own, or an earlier svlog's:
    `after`, as svscan starts a new logger on the pipe the dead one read)."""

    def __init__(self, cwd: Path, *script: str, after: Svlog | None = None) -> None:
        self.cwd = cwd
        self.first: Svlog = self if after is None else after.first  # the pipe's owner
        if after is None:
            reader, self.writer = os.pipe()
        else:
            reader, self.writer = after.reader, -1
        self.reader = reader  # kept: what svlog has not read can be counted and read back
        self.stderr_path = cwd / f"svlog-{time.monotonic_ns()}.err"
        with open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen([SVLOG, *script], cwd=cwd, stdin=reader, stderr=err)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.first.writer, view) :]

    def close_input(self) -> None:
        if self.first is not self:
            self.first.close_input()
        elif self.writer >= 0:
            os.close(self.writer)
            self.writer = -1

    def unread(self) -> int:
        """Bytes in the pipe that svlog has not read."""
        count = fcntl.ioctl(self.reader, termios.FIONREAD, b"\0\0\0\0")
        return int.from_bytes(count, sys.byteorder)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = PATIENCE) -> int:
        return self.process.wait(timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wchan(self) -> str:
        with open(f"/proc/{self.process.pid}/wchan") as f:
            return f.read()

    def kill(self) -> None:
        """SIGKILL, and wait for it to be gone."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()
        if self.first is self:
            self.close_input()
            os.close(self.reader)


@pytest.fixture
def svlog() -> Iterator[Callable[..., Svlog]]:
    """Start svlog (``svlog(cwd, *script, after=None)``); every one is killed by pid
    afterwards, and the pipes closed once no svlog reads them."""
    running: list[Svlog] = []

    def start(cwd: Path, *script: str, after: Svlog | None = None) -> Svlog:
        logger = Svlog(cwd, *script, after=after)
        running.append(logger)
        return logger

    yield start
    for logger in reversed(running):
        logger.stop()


def archives(log: Path, suffix: str = "") -> list[Path]:
    return sorted(p for p in log.iterdir() if p.name.startswith("@") and p.name.endswith(suffix))


def texts(path: Path, cut: bool = False) -> list[bytes]:
    """The text of each labelled line of `path` (every line must be labelled); `cut`: a
    file a SIGKILL may have cut in the middle of a write, whose last line may be partial
    (left out; the logger after it writes it again whole)."""
    lines = path.read_bytes().split(b"\n")
    if cut:
        lines[-1] = b""
    assert lines[-1] == b"", f"{path} does not end with a newline"
    found = [LABELLED.fullmatch(line) for line in lines[:-1]]
    assert all(found), f"unlabelled line in {path}"
    return [match[1] for match in found if match]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def numbered(first: int, last: int) -> bytes:
    return b"".join(b"line %d\n" % n for n in range(first, last + 1))


def test_rotation_keeps_n_minus_1_archives_of_whole_lines(
    tmp_path: Path, svlog: Callable[..., Svlog]
) -> None:
    """s4096 n5: files end at a newline past 2096 bytes; four archives are kept, 0744;
    together with current they hold the last lines of the input, in order."""
    data = b"".join(b"line %06d " % i + b"z" * (i % 150) + b"\n" for i in range(3000))
    logger = svlog(tmp_path, "t", "s4096", "n5", "./log")
    logger.write(data)
    logger.close_input()
    assert logger.wait() == 0
    log = tmp_path / "log"
    assert sorted(p.name for p in log.iterdir() if not p.name.startswith("@")) == [
        "current", "lock", "state",
    ]
    kept = archives(log)
    assert len(kept) == 4 and all(p.name.endswith(".s") and len(p.name) == 27 for p in kept)
    assert (mode(log), mode(log / "lock"), mode(log / "state")) == (0o700, 0o600, 0o644)
    assert all(mode(p) == 0o744 for p in [*kept, log / "current"])
    for archive in kept:
        assert 4096 - 2000 <= archive.stat().st_size <= 4096
    logged = [line for p in [*kept, log / "current"] for line in texts(p)]
    assert logged == data.split(b"\n")[-1 - len(logged) : -1]


@pytest.mark.parametrize("script", sorted(GOLDEN))
@pytest.mark.parametrize("read", [1 << 17, 3 << 10])
def test_files_end_where_multilogs_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      script: str, read: int) -> None:
    """The logger as a whole (whole reads at once, the segments near each cut line by line)
    ends every file at the byte Debian's multilog ended it, for reads of any size that a
    regular file would give (multiples of 1024). In-process, so the reads are exact."""
    monkeypatch.chdir(tmp_path)
    data = sample()
    logger = Logger(parse([*script.split(), "n1000", "./log"]))
    for at in range(0, len(data), read):
        logger.take(data[at : at + read])
    logger.end()
    log = tmp_path / "log"
    assert [p.stat().st_size for p in [*archives(log), log / "current"]] == GOLDEN[script]


def test_sigalrm_rotates_now(tmp_path: Path, svlog: Callable[..., Svlog]) -> None:
    """ALRM: current becomes an archive at once; an empty current is left alone."""
    logger = svlog(tmp_path, "t", "./log")
    current = tmp_path / "log" / "current"
    logger.write(numbered(1, 3))
    wait_until(lambda: current.exists() and len(texts(current)) == 3, "three lines logged")
    logger.signal(signal.SIGALRM)
    wait_until(lambda: archives(tmp_path / "log", ".s"), "an archive")
    wait_until(lambda: not (tmp_path / "log" / "previous").exists(), "rotation done")
    assert texts(archives(tmp_path / "log")[0]) == [b"line 1", b"line 2", b"line 3"]
    assert current.stat().st_size == 0 and mode(current) == 0o644
    logger.signal(signal.SIGALRM)  # current is empty: no archive
    logger.signal(signal.SIGTERM)
    assert logger.wait() == 0
    assert len(archives(tmp_path / "log")) == 1 and mode(current) == 0o744


def test_sigalrm_never_splits_a_long_line(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Half of a long line is written (its head, some tail) when ALRM comes: the rotation
    waits for the line's end (multilog would split it). In-process: no timing involved."""
    monkeypatch.chdir(tmp_path)
    logger = Logger(parse(["t", "./log"]))
    logger.take(b"x" * 3000)
    assert (tmp_path / "log" / "current").stat().st_size > 1000
    logger.rotate()
    assert archives(tmp_path / "log") == []
    logger.take(b"y\nnext\n")
    (archive,) = archives(tmp_path / "log")
    assert texts(archive) == [b"x" * 3000 + b"y", b"next"]
    assert (tmp_path / "log" / "current").read_bytes() == b""
    logger.end()


def test_sigterm_finishes_the_line_and_reads_no_further(
    tmp_path: Path, svlog: Callable[..., Svlog]
) -> None:
    """TERM in the middle of a line: svlog reads the rest of that line (and no more),
    writes it, and exits 0; what followed stays in the pipe for the next logger."""
    logger = svlog(tmp_path, "t", "./log")
    log = tmp_path / "log"
    logger.write(b"one\ntwo\npart")
    wait_until(lambda: (log / "current").exists() and len(texts(log / "current")) == 2,
               "two whole lines logged")
    # ALRM after TERM: once its archive exists, svlog has seen the TERM as well.
    logger.signal(signal.SIGTERM)
    logger.signal(signal.SIGALRM)
    wait_until(lambda: archives(log) and not (log / "previous").exists(), "TERM seen")
    assert logger.process.poll() is None, "svlog exited in the middle of a line"
    logger.write(b"ial\nthree\n")
    assert logger.wait() == 0
    assert texts(log / "current") == [b"partial"]
    assert mode(log / "current") == 0o744
    assert logger.unread() == len(b"three\n")
    assert os.read(logger.reader, 100) == b"three\n"


def test_sigterm_at_a_line_boundary_exits_at_once(
    tmp_path: Path, svlog: Callable[..., Svlog]
) -> None:
    logger = svlog(tmp_path, "./log")
    logger.write(b"whole\n")
    wait_until(lambda: (tmp_path / "log" / "current").read_bytes() == b"whole\n", "line logged")
    logger.signal(signal.SIGTERM)
    assert logger.wait() == 0  # its input is still open: TERM, not end of input
    assert mode(tmp_path / "log" / "current") == 0o744


def test_last_line_without_newline_gets_one(tmp_path: Path, svlog: Callable[..., Svlog]) -> None:
    logger = svlog(tmp_path, "./log")
    logger.write(b"first\n\nno newline")
    logger.close_input()
    assert logger.wait() == 0
    assert (tmp_path / "log" / "current").read_bytes() == b"first\n\nno newline\n"


def test_unclean_exit_leaves_u_and_a_clean_one_is_appended_to(
    tmp_path: Path, svlog: Callable[..., Svlog]
) -> None:
    """SIGKILL leaves current 0644: the next start renames it @LABEL.u (mode kept) and
    starts an empty current. After a clean exit (0744) the next start appends to it."""
    log = tmp_path / "log"
    first = svlog(tmp_path, "t", "./log")
    first.write(numbered(1, 5))
    wait_until(lambda: (log / "current").exists() and len(texts(log / "current")) == 5,
               "five lines logged")
    wait_until(lambda: first.unread() == 0, "the lines taken from the pipe")
    first.signal(signal.SIGKILL)
    first.wait()
    assert mode(log / "current") == 0o644
    second = svlog(tmp_path, "t", "./log")
    second.write(numbered(6, 7))
    second.close_input()
    assert second.wait() == 0
    (unclean,) = archives(log)
    assert unclean.name.endswith(".u") and mode(unclean) == 0o644
    assert texts(unclean) == numbered(1, 5).split(b"\n")[:-1]
    assert texts(log / "current") == [b"line 6", b"line 7"]
    assert (log / "state").read_bytes() == b""
    third = svlog(tmp_path, "t", "./log")
    third.write(numbered(8, 8))
    third.close_input()
    assert third.wait() == 0
    assert texts(log / "current") == [b"line 6", b"line 7", b"line 8"]
    assert archives(log) == [unclean]


def test_lock_held_elsewhere_is_fatal(tmp_path: Path, svlog: Callable[..., Svlog]) -> None:
    """Like multilog: no waiting, exit 111; the supervisor starts it again a second later."""
    log = tmp_path / "log"
    log.mkdir()
    with open(log / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        logger = svlog(tmp_path, "t", "./log")
        assert logger.wait() == 111
    assert logger.stderr() == "svlog: fatal: unable to lock directory ./log: temporary failure\n"
    assert not (log / "current").exists()


@pytest.mark.parametrize(
    ("script", "text"),
    [
        (["t", "x", "./log"], "svlog: fatal: unknown action 'x'"),
        (["./log", "t"], "svlog: fatal: t must be the first action"),
        (["s10k", "./log"], "svlog: fatal: 's10k': s must be followed by a size in bytes"),
    ],
)
def test_bad_script(tmp_path: Path, svlog: Callable[..., Svlog], script: list[str],
                    text: str) -> None:
    logger = svlog(tmp_path, *script)
    assert logger.wait() == 100
    assert logger.stderr().startswith(text) and logger.stderr().count("\n") == 1
    assert not (tmp_path / "log").exists()


def test_directory_that_cannot_be_made(tmp_path: Path, svlog: Callable[..., Svlog]) -> None:
    logger = svlog(tmp_path, "./missing/log")
    assert logger.wait() == 111
    assert logger.stderr() == (
        "svlog: fatal: unable to open directory ./missing/log: file does not exist\n"
    )


def fill(path: Path) -> None:
    """Write zeros into `path` until the file system is full."""
    with open(path, "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(bytes(4096))
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise


def test_disk_full_pauses_without_losing_a_line(
    tmp_path: Path, svlog: Callable[..., Svlog]
) -> None:
    """ENOSPC: one warning, then svlog retries every second and takes no more input (not
    even the lines it is trying to write: they stay in the pipe); once space is freed,
    every line arrives once, in order."""
    with small_tmpfs(tmp_path / "small") as small:
        log = small / "log"
        log.mkdir()
        fill(small / "filler")
        logger = svlog(tmp_path, "t", "./small/log")  # its stderr file is not on the tmpfs
        logger.write(numbered(1, 100))
        wait_until(lambda: "out of disk space" in logger.stderr(), "the warning")
        assert logger.stderr() == (
            "svlog: warning: unable to write to ./small/log/current, pausing: out of disk space\n"
        )
        logger.write(numbered(101, 200))
        wait_until(lambda: "nanosleep" in logger.wchan(), "svlog pausing")
        assert logger.unread() == len(numbered(1, 200)), "svlog took lines it has not written"
        (small / "filler").unlink()
        logger.close_input()
        assert logger.wait() == 0
        logged = [line for p in [*archives(log), log / "current"] for line in texts(p)]
        assert logged == numbered(1, 200).split(b"\n")[:-1]
        assert logger.stderr().count("\n") == 1


def test_kill_9_while_paused_on_a_full_disk_loses_nothing(
    tmp_path: Path, svlog: Callable[..., Svlog]
) -> None:
    """The case that lost 59 lines of 3,000: svlog paused on a full disk is SIGKILLed, the
    space is freed, a new svlog starts on the same pipe: every line is logged, once."""
    lines = numbered(1, 3000)  # 110 kB once labelled
    with small_tmpfs(tmp_path / "small", "256k") as small:
        log = small / "log"
        log.mkdir()
        fill(small / "filler")
        first = svlog(tmp_path, "t", "./small/log")
        first.write(lines)
        wait_until(lambda: "out of disk space" in first.stderr(), "the warning")
        wait_until(lambda: "nanosleep" in first.wchan(), "svlog pausing")
        first.kill()
        assert first.unread() == len(lines)
        (small / "filler").unlink()
        second = svlog(tmp_path, "t", "./small/log", after=first)
        second.close_input()
        assert second.wait() == 0
        logged = [line for p in [*archives(log), log / "current"] for line in texts(p)]
        assert logged == lines.split(b"\n")[:-1]
        assert len(archives(log, ".u")) == 1  # the dead one's current, empty


def test_half_a_line_outlives_the_logger(tmp_path: Path, svlog: Callable[..., Svlog]) -> None:
    """A line begun and not ended stays in the pipe while svlog waits for its end (asleep,
    not spinning on a pipe that stays readable); killed then, the next svlog logs it whole."""
    log = tmp_path / "log"
    first = svlog(tmp_path, "t", "./log")
    first.write(b"whole\nhalf a li")
    wait_until(lambda: (log / "current").exists() and len(texts(log / "current")) == 1,
               "the whole line logged")
    wait_until(lambda: first.unread() == len(b"half a li"), "the whole line taken")
    wait_until(lambda: "epoll" in first.wchan(), "svlog waiting for the rest")
    first.kill()
    second = svlog(tmp_path, "t", "./log", after=first)
    first.write(b"ne\nnext\n")
    first.close_input()
    assert second.wait() == 0
    (unclean,) = archives(log)
    assert texts(unclean) == [b"whole"]
    assert texts(log / "current") == [b"half a line", b"next"]


def test_kill_9_under_a_stream_loses_no_line(tmp_path: Path,
                                             svlog: Callable[..., Svlog]) -> None:
    """A writer streams numbered lines as fast as svlog takes them; svlog is SIGKILLed 5
    times while it works and started again on the same pipe each time: every number is
    logged, whole; a number logged twice can only be one the dead logger wrote and had
    not yet taken from the pipe (the next file begins again a little before)."""
    first = svlog(tmp_path, "t", "s16777215", "n20", "./log")
    stream = Stream(first)
    stream.start()
    log = tmp_path / "log"
    logger = first
    try:
        for kill in range(5):
            wait_until(partial(grown, log, logged_bytes(log) + 50_000),
                       f"lines logged before kill {kill + 1}")
            logger.kill()
            logger = svlog(tmp_path, "t", "s16777215", "n20", "./log", after=first)
    finally:
        last = stream.stop()
    first.close_input()
    assert logger.wait() == 0
    files = [*archives(log), log / "current"]
    assert [p.name[-2:] for p in files] == [".u"] * 5 + ["nt"]
    texts_of = [texts(p, cut=True) for p in files]
    logged = [line for lines in texts_of for line in lines]
    assert all(re.fullmatch(rb"line \d+", line) for line in logged)
    numbers = [int(line[5:]) for line in logged]
    assert sorted(set(numbers)) == list(range(1, last + 1))
    for path, lines, after in zip(files, texts_of, [*texts_of[1:], []], strict=True):
        numbers = [int(line[5:]) for line in lines]  # each file in order, from its start
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        piece = partial_line(path)
        assert not piece or any(line.startswith(piece) for line in after)


class Stream(threading.Thread):
    """Numbered lines into an svlog's pipe, 400 a write, until `stop`."""

    def __init__(self, logger: Svlog) -> None:
        super().__init__(daemon=True)  # blocked in a write if the test fails: not waited for
        self.logger = logger
        self.last = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.logger.write(numbered(self.last + 1, self.last + 400))
            self.last += 400

    def stop(self) -> int:
        """The last number written."""
        self.stopping.set()
        self.join(PATIENCE)
        return self.last


def partial_line(path: Path) -> bytes:
    """The text of the line a SIGKILL cut in the middle of a write, as far as it was
    written (b"" if none, or if the cut left part of the label only)."""
    piece = path.read_bytes().rpartition(b"\n")[2]
    label = LABELLED.match(piece)
    return label[1] if label else b""


def grown(log: Path, size: int) -> bool:
    return logged_bytes(log) >= size


def logged_bytes(log: Path) -> int:
    """Bytes in every file of `log` (current and archives)."""
    return sum(p.stat().st_size for p in log.iterdir() if p.name == "current" or
               p.name.startswith("@")) if log.exists() else 0


async def test_svlog_as_a_logger_under_svscan(tmp_path: Path, start_svscan: Any) -> None:
    """``log/run`` = ``exec svlog t ./main``: the service's lines land in main/current,
    labelled, and after svscan's orderly stop current is 0744 (a clean exit)."""
    root = tmp_path / "root"
    root.mkdir()
    service = make_service(root, "talk", 'i=1; while [ $i -le 50 ]; do echo "talk $i"; '
                                         'i=$((i+1)); done; exec sleep 1000')
    make_service(service, "log", f"PATH={BIN}:$PATH\nexec svlog t ./main")
    daemon = start_svscan(root)
    await started(service / "log")
    await started(service)
    current = service / "log" / "main" / "current"
    await eventually(lambda: current.exists() and len(texts(current)) == 50, what="50 lines")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert texts(current) == [b"talk %d" % n for n in range(1, 51)]
    assert mode(current) == 0o744
    with trio.fail_after(PATIENCE):
        done = await trio.run_process([TAI64NLOCAL], stdin=current.read_bytes(),
                                      capture_stdout=True)
    converted = done.stdout.decode()
    assert re.fullmatch(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} talk \d+\n){50}", converted)

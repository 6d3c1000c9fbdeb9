"""Garbage into ``supervise/control``: no crash, and the state afterwards is one the table allows.

Our ``supervise`` runs one service (``exec sleep 1000``). The test writes into
its control FIFO without ever blocking its trio thread: non-blocking writes of
at most PIPE_BUF bytes (so each is all-or-nothing), waiting for the FIFO to be
writable again when it is full. Afterwards:

- the daemon is alive (or, after ``x``, has exited 0 once the service was down);
- the state is consistent: a pid in ``supervise/status`` iff ./run is up, that
  pid is the daemon's only child, stopped iff the status says paused; a
  service wanted up is up, one wanted down is down;
- our ``svstat`` and Debian's ``/usr/bin/svstat`` read a valid status, the same one;
- the service still obeys ``u`` and ``d``.

The random megabyte has every ``x`` replaced (``x`` releases the directory once
the service is down, a legitimate end of the daemon); the byte-by-byte test
sends ``x`` too, and checks that end.
"""

from __future__ import annotations

import array
import fcntl
import os
import random
import re
import subprocess
import termios
from pathlib import Path
from typing import Any

import trio

from supervise.status import RunState, Want
from support import (
    PATIENCE,
    Daemon,
    client,
    descendants,
    eventually,
    make_service,
    peer,
    pid_alive,
    read_status,
    send,
    started,
    supervisor_listening,
)

RUN = "exec sleep 1000"
SEED = 0x5EED_C0DE
MIB = 1 << 20
#: Bytes per write: a non-blocking FIFO write of at most PIPE_BUF is all or nothing.
PIPE_BUF = 4096
_SVSTAT_LINE = re.compile(r"^(?P<dir>.+): (?:up \(pid (?P<pid>\d+)\)|down) \d+ seconds")


def _queued(fd: int) -> int:
    """Bytes written into the FIFO and not read yet (FIONREAD)."""
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return count[0]


async def write_control(service: Path, chunks: list[bytes]) -> None:
    """Write each chunk into ``control`` as its own write, never blocking the trio thread;
    return once the daemon has read everything."""
    fd = os.open(service / "supervise" / "control", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        with trio.fail_after(4 * PATIENCE):
            for chunk in chunks:
                assert 0 < len(chunk) <= PIPE_BUF
                while True:
                    try:
                        assert os.write(fd, chunk) == len(chunk)
                        break
                    except BlockingIOError:
                        await trio.lowlevel.wait_writable(fd)
            await eventually(lambda: _queued(fd) == 0, 4 * PATIENCE, "the FIFO read empty")
    finally:
        os.close(fd)


def random_megabyte() -> bytes:
    """1 MiB of seeded random bytes, ``x`` replaced by ``X`` (not a command)."""
    return random.Random(SEED).randbytes(MIB).replace(b"x", b"X")


def consistent(service: Path, daemon: Daemon) -> bool:
    """Whether status and processes agree, and the service is where its want says."""
    record = read_status(service)
    children = {pid: state for pid, state in descendants(daemon.pid).items() if state != "Z"}
    if record.pid == 0:
        return (record.run_state is RunState.DOWN and not children
                and record.want is not Want.UP and not record.paused and not record.term_sent)
    return (
        record.run_state is RunState.RUN
        and set(children) == {record.pid}
        and record.paused == (children[record.pid] == "T")
        and record.want is not Want.DOWN
        and read_status(service) == record
    )


def _svstats(service: Path) -> list[str]:
    """What our svstat and Debian's print for `service` (each must exit 0, silent on stderr)."""
    results = [
        client("svstat", service),
        subprocess.run([peer("svstat"), str(service)], capture_output=True, text=True,
                       timeout=PATIENCE, check=False),
    ]
    for result in results:
        assert result.returncode == 0 and result.stderr == "", result
    return [result.stdout for result in results]


async def both_svstats_agree(service: Path) -> None:
    """Our svstat and Debian's read a valid status, and say the pid the status file holds."""

    def agree() -> bool:
        before = read_status(service)
        lines = _svstats(service)
        if read_status(service) != before:
            return False  # changed meanwhile: read again
        for line in lines:
            match = _SVSTAT_LINE.match(line)
            assert match and match["dir"] == str(service), line
            assert int(match["pid"] or 0) == before.pid, (line, before)
            assert ("paused" in line) == before.paused, (line, before)
        return True

    await eventually(agree, what="both svstats reading the same status")


async def obeys_up_and_down(service: Path, daemon: Daemon) -> None:
    """``cu`` brings it up and running (not stopped), ``d`` down, ``u`` up again."""
    send(service, b"cu")
    up = await started(service)
    await eventually(lambda: consistent(service, daemon) and not read_status(service).paused,
                     what="up and running")
    await both_svstats_agree(service)
    send(service, b"d")
    await eventually(lambda: read_status(service).pid == 0, what="down after d")
    assert not pid_alive(up.pid)
    await eventually(lambda: consistent(service, daemon), what="consistent while down")
    await both_svstats_agree(service)
    send(service, b"u")
    again = await started(service)
    assert again.pid != up.pid and pid_alive(again.pid)
    await both_svstats_agree(service)


async def test_a_random_megabyte_into_control(tmp_path: Path, start_daemon: Any) -> None:
    """About 61,000 commands among the noise (every letter but x), 256 writes of 4 KiB."""
    service = make_service(tmp_path, "fuzzed", RUN)
    daemon = start_daemon(service)
    await started(service)
    data = random_megabyte()
    assert len(data) == MIB and b"x" not in data and b"d" in data and b"u" in data
    await write_control(service, [data[at:at + PIPE_BUF] for at in range(0, MIB, PIPE_BUF)])
    assert daemon.process.poll() is None
    await eventually(lambda: consistent(service, daemon), what="a consistent state")
    await both_svstats_agree(service)
    assert supervisor_listening(service)
    await obeys_up_and_down(service, daemon)
    assert daemon.process.poll() is None
    assert "internal error" not in daemon.stderr() and "Traceback" not in daemon.stderr()


async def test_every_byte_one_by_one_with_u_between(
    tmp_path: Path, start_daemon: Any
) -> None:
    """Bytes 0-255 in order, each its own write followed by a ``u``.

    ``x`` (0x78) comes after the last ``d`` (0x64). Usually ./run is down then
    (killed by an earlier letter, its restart waiting for its second), so the
    daemon releases the directory and exits 0 at once; on a slow machine it
    may still be supervising a running service that wants to exit, and ``cd``
    ends it. Either way: exit 0, lock free, status down, and a new supervisor
    takes the directory.
    """
    service = make_service(tmp_path, "bytes", RUN)
    daemon = start_daemon(service)
    await started(service)
    chunks = [piece for value in range(256) for piece in (bytes([value]), b"u")]
    await write_control(service, chunks)
    if daemon.process.poll() is None:
        await eventually(lambda: daemon.process.poll() is not None or consistent(service, daemon),
                         what="a consistent state, or the exit x asked for")
    if daemon.process.poll() is None:
        await both_svstats_agree(service)
        assert b"want exit" in (service / "supervise" / "stat").read_bytes()
        send(service, b"cd")
    last = read_status(service).pid
    assert await trio.to_thread.run_sync(daemon.wait) == 0
    assert not supervisor_listening(service)
    assert client("svok", service).returncode == 100
    record = read_status(service)
    assert (record.pid, record.run_state) == (0, RunState.DOWN)
    assert not last or not pid_alive(last)
    assert "internal error" not in daemon.stderr() and "Traceback" not in daemon.stderr()
    # released cleanly: a new supervisor takes the directory at once
    second = start_daemon(service)
    await started(service)
    await obeys_up_and_down(service, second)

"""Our ``svok`` against Debian's ``/usr/bin/svok``: the same exit code and the same stderr.

Each case runs both programs on the same arguments from the same directory and
compares (exit code, stdout, stderr) as a whole, then checks the exit code and
message daemontools documents, so a case where both agree on something wrong
fails too. Supervisors are real: Debian's ``supervise`` and ``runsv`` (the
``peers`` fixture) and our daemon (``start_daemon``); "listening" without a
supervisor is a FIFO whose read end the test holds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interop.interop_support import PeerSupervisors, peer_up, run_client
from interop.interop_support import (
    peers_fixture as peers_fixture,  # the `peers` fixture
)
from support import client, make_service, peer, started

Result = tuple[int, str, str]


def _outcome(result: subprocess.CompletedProcess[str]) -> Result:
    return result.returncode, result.stdout, result.stderr


def svok_both(*args: str | Path, cwd: Path) -> Result:
    """Debian's svok and ours on the same arguments; they must agree. Debian's outcome."""
    theirs = _outcome(run_client([peer("svok"), *map(str, args)], cwd=cwd))
    ours = _outcome(client("svok", *args, cwd=cwd))
    assert ours == theirs, f"svok {list(map(str, args))}: Debian {theirs!r}, ours {ours!r}"
    return theirs


@contextlib.contextmanager
def held_fifo(path: Path) -> Iterator[int]:
    """A FIFO at `path` whose read end the test holds: a supervisor "listening" on it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        yield fd
    finally:
        os.close(fd)


@pytest.mark.parametrize("supervisor", ["supervise", "runsv", "ours"])
async def test_svok_running_supervisor(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors, supervisor: str
) -> None:
    """A directory a supervisor runs: both exit 0 and print nothing, then 100 once it exited."""
    service = make_service(tmp_path, "a", "exec sleep 1000")
    if supervisor == "ours":
        process: Any = start_daemon(service)
        await started(service)
    else:
        process = peers.start(supervisor, service)
        await peer_up(service)
    assert svok_both("a", cwd=tmp_path) == (0, "", "")
    assert svok_both(service, cwd=tmp_path) == (0, "", "")

    result = run_client([peer("svc"), "-dx", str(service)])
    assert (result.returncode, result.stderr) == (0, "")
    assert process.wait() == 0
    assert svok_both("a", cwd=tmp_path) == (100, "", "")


async def test_svok_ok_fifo_held_by_a_reader(tmp_path: Path) -> None:
    """``supervise/ok`` held open for reading by anyone counts as a running supervisor: 0."""
    with held_fifo(tmp_path / "a" / "supervise" / "ok"):
        assert svok_both("a", cwd=tmp_path) == (0, "", "")


async def test_svok_ok_fifo_without_reader(tmp_path: Path) -> None:
    """``supervise/ok`` with no reader (ENXIO): both exit 100, silently."""
    (tmp_path / "a" / "supervise").mkdir(parents=True)
    os.mkfifo(tmp_path / "a" / "supervise" / "ok")
    assert svok_both("a", cwd=tmp_path) == (100, "", "")


async def test_svok_no_supervise_directory(tmp_path: Path) -> None:
    """No ``supervise/`` (and ``supervise/`` without ``ok``): ENOENT, both exit 100, silently."""
    service = make_service(tmp_path, "a", "exec sleep 1000")
    assert svok_both("a", cwd=tmp_path) == (100, "", "")
    (service / "supervise").mkdir()
    assert svok_both("a", cwd=tmp_path) == (100, "", "")


async def test_svok_nonexistent_directory(tmp_path: Path) -> None:
    """A directory that does not exist: 111 and daemontools' fatal line."""
    assert svok_both("nonexist", cwd=tmp_path) == (
        111, "", "svok: fatal: unable to chdir to nonexist: file does not exist\n"
    )
    missing = tmp_path / "nope"
    assert svok_both(missing, cwd=tmp_path) == (
        111, "", f"svok: fatal: unable to chdir to {missing}: file does not exist\n"
    )


async def test_svok_not_a_directory(tmp_path: Path) -> None:
    """A regular file given as the directory: chdir fails with ENOTDIR, 111."""
    (tmp_path / "file").write_text("")
    assert svok_both("file", cwd=tmp_path) == (
        111, "", "svok: fatal: unable to chdir to file: not a directory\n"
    )


async def test_svok_ok_is_a_directory(tmp_path: Path) -> None:
    """``supervise/ok`` is a directory: an open error other than ENOENT/ENXIO, 111."""
    (tmp_path / "a" / "supervise" / "ok").mkdir(parents=True)
    assert svok_both("a", cwd=tmp_path) == (
        111, "", "svok: fatal: unable to open a/supervise/ok: is a directory\n"
    )


async def test_svok_no_arguments(tmp_path: Path) -> None:
    """No argument: daemontools' usage line and 100."""
    assert svok_both(cwd=tmp_path) == (100, "", "svok: usage: svok dir\n")


async def test_svok_only_the_first_argument_counts(tmp_path: Path) -> None:
    """daemontools' svok looks at argv[1] only: what follows is ignored, either way round."""
    with held_fifo(tmp_path / "a" / "supervise" / "ok"):
        assert svok_both("a", "nonexist", cwd=tmp_path) == (0, "", "")
        assert svok_both("nonexist", "a", cwd=tmp_path) == (
            111, "", "svok: fatal: unable to chdir to nonexist: file does not exist\n"
        )

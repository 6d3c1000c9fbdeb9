"""Process-group signals with real processes: daemontools-encore's ``+ = L l`` and ``signal-group``.

The service is a run script that starts a background child (which starts a
grandchild of its own) and then execs: three shells in one process group,
the main pid its leader. Each logs the signals it traps to ``got``.

Which processes a signal reached is told without waiting for something not to
happen: a main-only signal (HUP) is followed by a group-wide one of another
kind (USR2). A shell runs its traps in the order the signals arrived, so once
a child has logged its USR2, a HUP that had reached it would be logged too.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from support import client, eventually, make_service, pid_alive, read_status, send, started

#: A shell that logs HUP, USR2 (and QUIT) to ./got, says its pid in NAME.pid, and waits.
TRAPPER = """\
#!/bin/sh
name=$1
for sig in HUP USR2 QUIT; do trap "echo $name $sig >> got" $sig; done
echo $$ > $name.pid
if [ "$name" = child ]; then ./trapper grandchild & fi
while :; do sleep 0.2; done
"""
RUN = "./trapper child &\nexec ./trapper main"
NAMES = ("main", "child", "grandchild")


def _service(root: Path, name: str, **files: str) -> Path:
    service = make_service(root, name, RUN, **files)
    trapper = service / "trapper"
    trapper.write_text(TRAPPER)
    trapper.chmod(0o755)
    return service


@contextmanager
def _group_killed(service: Path) -> Iterator[None]:
    """Kill what the test leaves of the service's group (by its id, the main pid) at the end:
    the child and grandchild outlive the main one, and belong to no one of ours then."""
    try:
        yield
    finally:
        pids = [_pid(service, name) for name in NAMES if _pid_written(service, name)]
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _pid(service: Path, name: str) -> int:
    return int((service / f"{name}.pid").read_text())


def _pid_written(service: Path, name: str) -> bool:
    """NAME.pid holds its whole line (the shell's `>` makes the file before it writes)."""
    path = service / f"{name}.pid"
    return path.exists() and path.read_text().endswith("\n")


async def _three_running(service: Path) -> dict[str, int]:
    """Wait until main, child and grandchild trap their signals; their pids."""
    record = await started(service)
    await eventually(lambda: all(_pid_written(service, name) for name in NAMES), what="traps set")
    pids = {name: _pid(service, name) for name in NAMES}
    assert pids["main"] == record.pid
    assert {os.getpgid(pid) for pid in pids.values()} == {record.pid}  # one group, main leads
    return pids


def _got(service: Path) -> list[str]:
    path = service / "got"
    return path.read_text().splitlines() if path.exists() else []


async def _logged(service: Path, *lines: str) -> list[str]:
    """Wait until every line is in ``got``; all of ``got`` then."""
    await eventually(lambda: set(lines) <= set(_got(service)), what=f"{lines} logged")
    return _got(service)


def _svc(*args: str, cwd: Path) -> None:
    result = client("svc", *args, cwd=cwd)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def _tell(service: Path, command: bytes | tuple[str, ...]) -> None:
    """Raw bytes to ``control``, or our svc with these options."""
    if isinstance(command, bytes):
        send(service, command)
    else:
        _svc(*command, service.name, cwd=service.parent)


#: (how to send HUP to the main pid, how to send USR2 to the group): our svc, and the
#: bytes daemontools-encore's svc writes for ``svc -h`` and ``svc -+ -2`` (it begins
#: every command with ``l``), which its supervise and ours read alike.
WAYS: dict[str, tuple[bytes | tuple[str, ...], bytes | tuple[str, ...]]] = {
    "our svc": (("-h",), ("-+", "-2")),
    "encore's bytes": (b"lh", b"l+2"),
}


@pytest.mark.parametrize("way", list(WAYS))
async def test_plus_reaches_the_group_and_plain_the_main_pid(
    tmp_path: Path, start_daemon: Any, way: str
) -> None:
    """``svc -h``: the main pid only; ``svc -+ -2``: all three."""
    service = _service(tmp_path, "pg")
    main_only, group = WAYS[way]
    with _group_killed(service):
        start_daemon(service)
        await _three_running(service)
        _tell(service, main_only)
        await _logged(service, "main HUP")
        _tell(service, group)
        got = await _logged(service, *(f"{name} USR2" for name in NAMES))
        assert got[0] == "main HUP"
        assert sorted(got[1:]) == ["child USR2", "grandchild USR2", "main USR2"]
        send(service, b"dk")  # the main pid dies; the group goes with _group_killed


async def test_signal_group_file_makes_the_group_the_default(
    tmp_path: Path, start_daemon: Any
) -> None:
    """With an empty ``signal-group``: ``h`` reaches all three, ``= h`` the main pid only,
    and ``d`` still the main pid only (the file does not name it)."""
    service = _service(tmp_path, "pg", signal_group="")
    with _group_killed(service):
        start_daemon(service)
        pids = await _three_running(service)
        send(service, b"=q")  # encore's -=: main only
        await _logged(service, "main QUIT")
        _svc("-2", "pg", cwd=tmp_path)  # no selector: the file says the group
        got = await _logged(service, *(f"{name} USR2" for name in NAMES))
        assert got[0] == "main QUIT" and sorted(got[1:]) == [f"{n} USR2" for n in sorted(NAMES)]
        _svc("-d", "pg", cwd=tmp_path)
        await eventually(lambda: read_status(service).pid == 0, what="main pid down")
        assert not pid_alive(pids["main"])
        os.killpg(pids["main"], signal.SIGHUP)  # the rest of the group still runs
        await _logged(service, "child HUP", "grandchild HUP")
        assert pid_alive(pids["child"]) and pid_alive(pids["grandchild"])


async def test_plus_d_stops_the_whole_group(tmp_path: Path, start_daemon: Any) -> None:
    """``svc -+ -d``, as encore: TERM and CONT to the group; nothing of it is left."""
    service = _service(tmp_path, "pg")
    with _group_killed(service):
        start_daemon(service)
        pids = await _three_running(service)
        _svc("-+", "-d", "pg", cwd=tmp_path)
        await eventually(
            lambda: not any(pid_alive(pid) for pid in pids.values()), what="group gone"
        )
        # A dead ./run is down in the status once reaped, a moment after it died.
        await eventually(lambda: read_status(service).pid == 0, what="the status down")


async def test_log_selector_reaches_the_log_service(tmp_path: Path, start_daemon: Any) -> None:
    """encore's ``svc -L -h`` bytes to DIR are handed to DIR/log; our ``svc -L -2`` writes to
    DIR/log itself. The main service hears neither."""
    service = _service(tmp_path, "pg")
    log = _service(service, "log")
    with _group_killed(service), _group_killed(log):
        start_daemon(service, log)
        await _three_running(service)
        await _three_running(log)
        send(service, b"lLh")
        await _logged(log, "main HUP")
        _svc("-L", "-+", "-2", "-l", "-q", "pg", cwd=tmp_path)
        got = await _logged(log, *(f"{name} USR2" for name in NAMES))
        assert got[0] == "main HUP" and len(got) == 4
        assert await _logged(service, "main QUIT") == ["main QUIT"]
        send(service, b"dk")
        send(log, b"dk")

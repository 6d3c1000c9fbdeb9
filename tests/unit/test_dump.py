"""svscan's SIGUSR1 text: one line per service (`service_line`), one per fd (`descriptor_lines`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supervise.dump import descriptor_lines, service_line
from supervise.machine import Phase, State
from supervise.status import Want

NOW = 1_795_282_400.0


@pytest.mark.parametrize(
    ("state", "starts", "text"),
    [
        pytest.param(
            State(phase=Phase.RUN, pid=12, stamp=NOW - 30), 1,
            "web: up (pid 12) 30 seconds, 0 restarts, want up", id="up",
        ),
        pytest.param(
            State(phase=Phase.RUN, pid=12, stamp=NOW - 30.9), 3,
            "web: up (pid 12) 30 seconds, 2 restarts, want up", id="up-restarted",
        ),
        pytest.param(
            State(phase=Phase.DOWN, want=Want.DOWN, stamp=NOW - 5), 1,
            "web: down 5 seconds, 0 restarts, want down", id="down",
        ),
        pytest.param(
            State(phase=Phase.DOWN, stamp=NOW), 0,
            "web: down 0 seconds, 0 restarts, want up", id="never-started",
        ),
        pytest.param(
            State(phase=Phase.FINISH, pid=13, stamp=NOW - 2), 4,
            "web: finish (pid 13) 2 seconds, 3 restarts, want up", id="finish",
        ),
        pytest.param(
            State(phase=Phase.FINISH, pid=0, stamp=NOW - 2), 1,
            "web: finish 2 seconds, 0 restarts, want up", id="finish-not-spawned-yet",
        ),
        pytest.param(
            State(phase=Phase.RUN, pid=12, stamp=NOW - 30, ready=True, ready_stamp=NOW - 29), 1,
            "web: up (pid 12) 30 seconds, 0 restarts, ready 29 seconds, want up", id="ready",
        ),
        pytest.param(
            State(phase=Phase.RUN, pid=12, stamp=NOW - 30, ready=True, ready_stamp=None), 1,
            "web: up (pid 12) 30 seconds, 0 restarts, want up", id="ready-without-stamp",
        ),
        pytest.param(
            State(phase=Phase.RUN, pid=12, stamp=NOW - 30, ready=False, ready_stamp=NOW - 1), 1,
            "web: up (pid 12) 30 seconds, 0 restarts, want up", id="stamp-without-ready",
        ),
        pytest.param(
            State(phase=Phase.RUN, pid=12, stamp=NOW - 30, paused=True), 1,
            "web: up (pid 12) 30 seconds, 0 restarts, want up, paused", id="paused",
        ),
        pytest.param(
            State(phase=Phase.DOWN, want=Want.DOWN, stamp=NOW - 7, failed=True), 2,
            "web: down 7 seconds, 1 restarts, want down, failed permanently", id="failed",
        ),
        pytest.param(
            State(phase=Phase.RUN, want=Want.ONCE, pid=12, stamp=NOW - 1), 1,
            "web: up (pid 12) 1 seconds, 0 restarts, want once", id="once",
        ),
        pytest.param(
            State(phase=Phase.RUN, want=Want.DOWN, pid=12, stamp=NOW - 1, exiting=True), 1,
            "web: up (pid 12) 1 seconds, 0 restarts, want down, exiting", id="exiting",
        ),
        pytest.param(
            State(phase=Phase.RUN, pid=12, stamp=NOW + 3, ready=True, ready_stamp=NOW + 4), 1,
            "web: up (pid 12) 0 seconds, 0 restarts, ready 0 seconds, want up",
            id="clock-went-back",
        ),
        pytest.param(
            State(phase=Phase.RUN, pid=12, stamp=NOW - 3, paused=True, failed=True,
                  exiting=True, ready=True, ready_stamp=NOW - 2), 1,
            "web: up (pid 12) 3 seconds, 0 restarts, ready 2 seconds, want up, paused, "
            "failed permanently, exiting",
            id="every-flag",
        ),
    ],
)
def test_service_line(state: State, starts: int, text: str) -> None:
    assert service_line("web", state, starts, NOW) == text


def test_service_line_names_the_path_as_given() -> None:
    line = service_line("web/log", State(phase=Phase.RUN, pid=9, stamp=NOW), 1, NOW)
    assert line.startswith("web/log: up (pid 9) ")


# --- descriptor_lines --------------------------------------------------------------------


def parse(lines: list[str]) -> dict[int, str]:
    result = {}
    for line in lines:
        head, what = line.split(": ", 1)
        word, number = head.split(" ")
        assert word == "fd"
        result[int(number)] = what
    return result


def test_descriptor_lines_name_known_fds_and_read_the_others(tmp_path: Path) -> None:
    named_file = tmp_path / "named"
    other_file = tmp_path / "other"
    named_file.write_text("")
    other_file.write_text("")
    named = os.open(named_file, os.O_RDONLY)
    other = os.open(other_file, os.O_RDONLY)
    read_end, write_end = os.pipe()
    # A stale name for a closed fd is not listed. Two closed numbers, the higher one named:
    # listing /proc/self/fd itself takes the lowest free number, never this one.
    spare = os.open(named_file, os.O_RDONLY)
    closed = os.open(named_file, os.O_RDONLY)
    assert spare < closed
    os.close(closed)
    os.close(spare)
    try:
        lines = descriptor_lines({named: "web/supervise/lock", closed: "gone already"})
        fds = parse(lines)
        assert fds[named] == "web/supervise/lock"
        assert fds[other] == str(other_file)
        assert fds[read_end].startswith("pipe:[") and fds[read_end] == fds[write_end]
        assert closed not in fds and "gone already" not in "\n".join(lines)
        open_now = {int(fd) for fd in os.listdir("/proc/self/fd")}
        assert set(fds) <= open_now  # nothing invented
        assert len(open_now - set(fds)) <= 1  # nothing left out but this listing's own fd
    finally:
        for fd in (named, other, read_end, write_end):
            os.close(fd)


def test_descriptor_lines_are_in_numeric_order(tmp_path: Path) -> None:
    opened = []
    try:
        while len(opened) < 12:  # enough to pass fd 10, where text order would differ
            opened.append(os.open(tmp_path, os.O_RDONLY))
        numbers = list(parse(descriptor_lines({})))
        assert numbers == sorted(numbers)
        assert set(opened) <= set(numbers)
        assert max(opened) >= 10
    finally:
        for fd in opened:
            os.close(fd)


def test_descriptor_lines_shape(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        lines = descriptor_lines({fd: "inotify watch on /srv"})
        assert f"fd {fd}: inotify watch on /srv" in lines
        assert f"fd {fd}: {tmp_path}" not in lines
    finally:
        os.close(fd)

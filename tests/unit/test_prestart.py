"""The first pass hands over what the machine would have made, and stays light.

What `supervise.prestart` starts is held to `supervise.machine`: its state is
the state of `machine.initial` then `Spawned`, its status files are the
machine's `status_files` of that state, and the daemon reads them back
through `handover.decode_plain`. Its imports are the standard library and our
import-free modules: no trio, attrs, typing or json before the services run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from supervise import handover, machine, prestart, process, status
from supervise.directory import Descriptors

NOW = 1_795_282_400.25
PID = 4242


TREES = ["", f"session {PID}", "cgroup /sys/fs/cgroup/supervise.1/svc.2"]


@pytest.mark.parametrize("followed", TREES)
def test_started_state_is_the_machines_plain_start(followed: str) -> None:
    begin = machine.initial(NOW, down_file=False)
    assert machine.Spawn() in begin.actions
    spawned = machine.step(begin.state, machine.Spawned(PID, notify=False, tree=followed), NOW)
    assert handover.decode_state(prestart.started_state(PID, NOW, followed)) == spawned.state


def test_started_state_crosses_as_plain_json() -> None:
    plain = prestart.started_state(PID, NOW)
    assert json.loads(json.dumps(plain)) == plain


def test_a_down_file_is_not_plain() -> None:
    """The machine does not start a directory with ``down``: the first pass leaves it."""
    assert machine.Spawn() not in machine.initial(NOW, down_file=True).actions
    assert "down" in prestart.NOT_PLAIN


@pytest.mark.parametrize("followed", TREES)
def test_first_status_files_are_the_machines(tmp_path: Path, followed: str) -> None:
    service = tmp_path / "svc"
    (service / "supervise").mkdir(parents=True)
    lock = os.open(service / "supervise" / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    os.mkfifo(service / "supervise" / "ok", 0o600)
    taken = prestart.Taken(Descriptors(lock), (1, 2))
    taken.pid = PID
    taken.tree = followed
    try:
        prestart._announce(str(service), taken, NOW)
        state = handover.decode_state(prestart.started_state(PID, NOW, followed))
        files = machine.status_files(state, has_extra=False)
        assert ("tree" in dict(files)) == bool(followed)
        for name, data in files:
            assert (service / "supervise" / name).read_bytes() == data, name
        assert not (service / "supervise" / "xstatus").exists()
        assert taken.fds.ok is not None  # ok opened once the status is there
    finally:
        taken.fds.close()


def test_handover_of_a_logged_entry_decodes(tmp_path: Path) -> None:
    taken = prestart.Taken(Descriptors(7, 8, 9), (3, 4))
    taken.pid = PID
    plain = {
        "entries": [{"name": "web", "key": [3, 4], "pipe": [5, 6],
                     "main": taken.plain(NOW), "log": taken.plain(NOW)}],
        "fresh": True,
    }
    handed = handover.decode_plain(plain)
    assert handed.fresh
    (entry,) = handed.entries
    assert entry.pipe == (5, 6) and entry.key == (3, 4)
    assert entry.main is not None and entry.main.state.pid == PID
    assert entry.main.fds == {"lock": 7, "control": 8, "ok": 9}
    assert entry.main.identity == (3, 4)


def test_a_handover_from_an_exec_is_never_fresh() -> None:
    assert not handover.decode(handover.encode(handover.DaemonHandover(fresh=True))).fresh


@pytest.mark.parametrize("module", ["supervise.svscan_cli", "supervise.cli"])
def test_the_first_pass_loads_no_heavy_module(module: str) -> None:
    code = (
        f"import sys, {module}, supervise.prestart, supervise.reexec; "
        "print(sorted(m for m in ('trio', 'attr', 'attrs', 'typing', 'json', "
        "'supervise.machine', 'supervise.handover') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_a_first_status_not_written_is_handed_over_as_a_failed_write(tmp_path: Path) -> None:
    """runit's ``pid`` file is a directory: the daemon must write the status and say why."""
    service = tmp_path / "svc"
    (service / "supervise" / "pid").mkdir(parents=True)
    lock = os.open(service / "supervise" / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    os.mkfifo(service / "supervise" / "ok", 0o600)
    taken = prestart.Taken(Descriptors(lock), (1, 2))
    taken.pid = PID
    try:
        prestart._announce(str(service), taken, NOW)
        assert not taken.written
        assert taken.fds.ok is not None  # opened all the same, as the daemon does
        handed = handover.decode_service(taken.plain(NOW))
        assert handed.state.write_failures == 1
        assert handed.timers == {machine.Timer.STATUS: 0.0}
        due = machine.step(handed.state, machine.TimerDue(machine.Timer.STATUS), NOW)
        assert machine.WriteStatus() in due.actions
    finally:
        taken.fds.close()


def test_a_written_first_status_hands_over_no_timer() -> None:
    taken = prestart.Taken(Descriptors(7), (1, 2))
    taken.pid, taken.written = PID, True
    handed = handover.decode_service(taken.plain(NOW))
    assert handed.timers == {} and handed.state.write_failures == 0


FIRST_PASS_UNDER_A_LIMIT = """
import os, resource, sys
from supervise import prestart, process, spawn
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[1])))
os.chdir(sys.argv[2])
handed = prestart.first_pass(spawn.Environment(os.environb))
print(len(handed["entries"]), len(os.listdir("/proc/self/fd")))
"""


def test_the_first_pass_leaves_the_daemon_its_descriptors(tmp_path: Path) -> None:
    """Under a low limit it takes only what fits beside the daemon's budget (trio must
    start); the daemon takes the rest, or says they do not fit."""
    for n in range(10):
        service = tmp_path / f"s{n}"
        service.mkdir()
        (service / "run").write_text("#!/bin/sh\nexit 0\n")
        (service / "run").chmod(0o755)
    fitting = 4
    limit = process.descriptors_needed(fitting)
    result = subprocess.run(
        [sys.executable, "-c", FIRST_PASS_UNDER_A_LIMIT, str(limit), str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    taken, open_fds = map(int, result.stdout.split())
    assert taken == fitting
    assert limit - open_fds >= process.FDS_BASE


STAMPS_OF_A_SLOW_PASS = """
import itertools, json, os, sys
from supervise import prestart, spawn
os.chdir(sys.argv[1])
ticks = itertools.count(1_795_282_400.0, 5.0)  # each reading 5 s after the last
handed = prestart.first_pass(spawn.Environment(os.environb), clock=lambda: next(ticks))
print(json.dumps({e["name"]: e["main"]["state"]["stamp"] for e in handed["entries"]}))
"""


def test_each_run_is_stamped_when_it_started(tmp_path: Path) -> None:
    """A pass over 1,000 directories can take seconds: each ./run is stamped when it was
    spawned, not when the pass began. A daemon started after a ``kill -9`` takes a ./run
    back only if its start time is within `adoption.TOLERANCE` of its stamp; one stamp for
    the whole pass made it start a second copy of the later ones."""
    for n in range(3):
        service = tmp_path / f"s{n}"
        service.mkdir()
        (service / "run").write_text("#!/bin/sh\nexit 0\n")
        (service / "run").chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-c", STAMPS_OF_A_SLOW_PASS, str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    stamps = json.loads(result.stdout)
    assert sorted(stamps.values()) == [1_795_282_400.0, 1_795_282_405.0, 1_795_282_410.0]
    for name, stamp in stamps.items():
        written = status.unpack((tmp_path / name / "supervise" / "status").read_bytes())
        assert written.stamp.unix() == pytest.approx(stamp, abs=1e-6)

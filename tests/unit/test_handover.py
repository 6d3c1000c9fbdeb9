"""svscan's SIGHUP handover: the pure codec, the fd list, the command line, the exec check.

The payload must carry every field of `machine.State` (enums, the last exit
pair, None where nothing happened yet), the timers still running, the
descriptors by name, and refuse what an incompatible version wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervise import handover, machine, reexec
from supervise.handover import DaemonHandover, EntryHandover, ServiceHandover, decode, encode
from supervise.machine import Phase, State, Timer
from supervise.reexec import CannotExec, check_program, command_line
from supervise.status import Want

NOW = 1_795_282_400.25

RUNNING = ServiceHandover(
    fds={"lock": 7, "control": 8, "ok": 9},
    state=State(
        phase=Phase.RUN, want=Want.DOWN, paused=True, term_sent=True, exiting=False,
        failed=False, ready=True, start_pending=False, pid=4242, stamp=NOW - 30,
        ready_stamp=NOW - 29.5, last_start=NOW - 30, spawn_failures=0, last_exit=(None, 15),
        starts=3, notify=True,
    ),
    timers={Timer.KILL: 1.25},
    ready_fd=12,
    identity=(2049, 77),
)
#: Every default: nothing ever happened (None in each optional field).
FRESH = ServiceHandover(
    fds={"lock": 20}, state=State(), timers={}, ready_fd=None
)
FINISHING = ServiceHandover(
    fds={"lock": 13, "control": 14, "ok": 15},
    state=State(
        phase=Phase.FINISH, want=Want.ONCE, exiting=True, failed=True, start_pending=True,
        pid=4343, stamp=NOW, last_start=NOW - 2, spawn_failures=4, last_exit=(3, 0),
        starts=17, quiet=True, write_failures=2,
    ),
    timers={Timer.FINISH: 4.5, Timer.START: 0.0, Timer.KILL: -0.5},
    ready_fd=None,
)


def entry(name: str, main: ServiceHandover | None, log: ServiceHandover | None,
          pipe: tuple[int, int | None] | None) -> EntryHandover:
    return EntryHandover(name, (2049, 1234567), pipe, main, log)


TREE = DaemonHandover((
    entry("web", RUNNING, FINISHING, (5, 6)),
    entry("idle", FRESH, None, None),
    entry("refused", None, None, (30, 31)),
    entry("draining", None, FRESH, (40, None)),  # write end closed: the logger drains
))


# --- encode / decode ------------------------------------------------------------------


def test_round_trip_keeps_every_entry_and_service() -> None:
    assert decode(encode(TREE)) == TREE


def test_round_trip_keeps_the_exit_code() -> None:
    tree = DaemonHandover(TREE.entries, exit_code=111)
    assert decode(encode(tree)).exit_code == 111


def test_records_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        TREE.entries[0].name = "other"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        RUNNING.ready_fd = 4  # type: ignore[misc]


def test_round_trip_keeps_types() -> None:
    web, idle, refused, draining = decode(encode(TREE)).entries
    assert draining.pipe == (40, None)
    main, log = web.main, web.log
    assert isinstance(main, ServiceHandover) and isinstance(log, ServiceHandover)
    assert main.state.phase is Phase.RUN and main.state.want is Want.DOWN
    assert log.state.phase is Phase.FINISH and log.state.want is Want.ONCE
    assert main.state.last_exit == (None, 15) and isinstance(main.state.last_exit, tuple)
    assert log.state.last_exit == (3, 0) and isinstance(log.state.last_exit, tuple)
    assert main.identity == (2049, 77) and isinstance(main.identity, tuple)
    assert set(log.timers) == {Timer.FINISH, Timer.START, Timer.KILL}
    assert all(isinstance(left, float) for left in log.timers.values())
    assert idle.main is not None and idle.main.state.last_exit is None
    assert idle.main.state.ready_stamp is None
    assert idle.main.state.last_start is None and idle.main.ready_fd is None
    assert refused.main is None and refused.log is None and refused.pipe == (30, 31)
    assert (web.name, web.key, web.pipe) == ("web", (2049, 1234567), (5, 6))


def test_encoding_is_json_with_enums_by_name() -> None:
    data = json.loads(encode(TREE))
    assert data["version"] == handover.VERSION
    state = data["entries"][0]["main"]["state"]
    assert (state["phase"], state["want"], state["last_exit"]) == ("RUN", "DOWN", [None, 15])
    assert set(state) == {field.name for field in attrs.fields(State)}
    assert data["entries"][0]["main"]["timers"] == {"kill": 1.25}


def test_empty_tree_round_trips() -> None:
    assert decode(encode(DaemonHandover())) == DaemonHandover()


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"version": handover.VERSION + 1, "entries": []}).encode(),
        json.dumps({"version": 0, "entries": []}).encode(),
        json.dumps({"entries": []}).encode(),
        json.dumps([{"version": handover.VERSION}]).encode(),
        json.dumps("version 1").encode(),
        b"not json at all",
        b"",
    ],
    ids=["newer", "older", "no-version", "a-list", "a-string", "garbage", "empty"],
)
def test_decode_refuses_what_it_cannot_use(payload: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the contract is "ValueError", nothing finer
        decode(payload)


def test_decode_refuses_a_wrong_version_even_with_good_entries() -> None:
    good = json.loads(encode(TREE))
    good["version"] = handover.VERSION + 1
    with pytest.raises(ValueError, match="incompatible version"):
        decode(json.dumps(good).encode())


# --- tolerance: the two images may differ by a State field --------------------------------


def _with_state(change: Any) -> bytes:
    """The encoded TREE, with `change` applied to the first service's state dict."""
    data = json.loads(encode(TREE))
    change(data["entries"][0]["main"]["state"])
    return json.dumps(data).encode()


def test_a_state_field_missing_from_the_payload_takes_its_default() -> None:
    payload = _with_state(lambda state: (state.pop("spawn_failures"), state.pop("ready_stamp")))
    main = decode(payload).entries[0].main
    assert main is not None
    assert main.state == attrs.evolve(RUNNING.state, spawn_failures=0, ready_stamp=None)


def test_an_unknown_state_field_is_dropped() -> None:
    payload = _with_state(lambda state: state.update(runs=7, write_backoff=[1, 2]))
    assert decode(payload) == TREE


def test_an_empty_state_is_the_default_state() -> None:
    assert handover.decode_state({}) == State()


def test_a_payload_without_exit_code_means_0() -> None:
    data = json.loads(encode(TREE))
    del data["exit_code"]
    assert decode(json.dumps(data).encode()).exit_code == 0


# --- property: any State crosses the exec unchanged --------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
states = st.builds(
    State,
    phase=st.sampled_from(Phase),
    want=st.sampled_from(Want),
    paused=st.booleans(),
    term_sent=st.booleans(),
    exiting=st.booleans(),
    failed=st.booleans(),
    ready=st.booleans(),
    start_pending=st.booleans(),
    pid=st.integers(0, 2**22),
    stamp=finite,
    ready_stamp=st.none() | finite,
    last_start=st.none() | finite,
    spawn_failures=st.integers(0, 1000),
    last_exit=st.none() | st.tuples(st.none() | st.integers(0, 255), st.integers(0, 64)),
    starts=st.integers(0, 1 << 31),
    notify=st.booleans(),
    quiet=st.booleans(),
    write_failures=st.integers(0, 1000),
)
services = st.builds(
    ServiceHandover,
    fds=st.dictionaries(st.sampled_from(["lock", "control", "ok"]), st.integers(3, 1 << 20)),
    state=states,
    timers=st.dictionaries(st.sampled_from(Timer), finite),
    ready_fd=st.none() | st.integers(3, 1 << 20),
    identity=st.none() | st.tuples(st.integers(0, 1 << 40), st.integers(0, 1 << 40)),
)
pipes = st.none() | st.tuples(st.integers(3, 1 << 20), st.none() | st.integers(3, 1 << 20))


@given(main=st.none() | services, log=st.none() | services, pipe=pipes)
def test_any_service_round_trips(main: ServiceHandover | None, log: ServiceHandover | None,
                                 pipe: tuple[int, int | None] | None) -> None:
    tree = DaemonHandover((entry("svc", main, log, pipe),))
    assert decode(encode(tree)) == tree


@given(services)
def test_service_codec_round_trips(service: ServiceHandover) -> None:
    assert handover.decode_service(json.loads(json.dumps(handover.encode_service(service)))) \
        == service


# --- descriptors ---------------------------------------------------------------------------


def test_descriptors_lists_every_fd_of_the_tree() -> None:
    # web: pipe 5 6, main lock/control/ok 7 8 9 + ready 12, log 13 14 15; idle: lock 20;
    # refused: pipe 30 31; draining: read end 40, lock 20 (FRESH again)
    assert sorted(TREE.descriptors()) == [5, 6, 7, 8, 9, 12, 13, 14, 15, 20, 20, 30, 31, 40]


def test_descriptors_after_decode_are_the_same() -> None:
    assert sorted(decode(encode(TREE)).descriptors()) == sorted(TREE.descriptors())


def test_descriptors_of_nothing() -> None:
    assert DaemonHandover().descriptors() == []
    assert DaemonHandover((entry("gone", None, None, None),)).descriptors() == []


# --- purity ---------------------------------------------------------------------------------


def test_handover_module_does_not_import_trio() -> None:
    """The records and the codec are pure: importing them loads no trio (nor supervise.service)."""
    probe = (
        "import sys, supervise.handover; "
        "print(sorted(m for m in sys.modules if m == 'trio' or m.startswith('trio.') "
        "or m == 'supervise.service'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --- command_line ------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty temporary directory (relative paths are resolved against it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_console_script_relative_path_made_absolute(in_tmp: Path) -> None:
    (in_tmp / "bin").mkdir()
    (in_tmp / "bin" / "svscan").write_text("#!/usr/bin/python3\n")
    argv = command_line(["python3", "bin/svscan", "service"], "/usr/bin/python3", ["/srv/root"])
    assert argv == ["/usr/bin/python3", str(in_tmp / "bin" / "svscan"), "/srv/root"]


def test_dash_m_module_kept(in_tmp: Path) -> None:
    argv = command_line(
        ["python3", "-m", "supervise.svscan_cli", "-s", "root"], "/usr/bin/python3",
        ["-s", "/srv/root"],
    )
    assert argv == ["/usr/bin/python3", "-m", "supervise.svscan_cli", "-s", "/srv/root"]


def test_interpreter_options_kept(in_tmp: Path) -> None:
    argv = command_line(
        ["python3", "-X", "dev", "-W", "error", "-u", "-m", "supervise.svscan_cli", "root"],
        "/usr/bin/python3", ["/srv/root"],
    )
    assert argv == [
        "/usr/bin/python3", "-X", "dev", "-W", "error", "-u", "-m", "supervise.svscan_cli",
        "/srv/root",
    ]


def test_executable_made_absolute(in_tmp: Path) -> None:
    argv = command_line(["python3", "-m", "m", "root"], "venv/bin/python3", ["/srv/root"])
    assert argv == [str(in_tmp / "venv" / "bin" / "python3"), "-m", "m", "/srv/root"]


def test_args_appended_in_place_of_the_programs_own(in_tmp: Path) -> None:
    (in_tmp / "run.py").write_text("")
    argv = command_line(["python3", "run.py", "-s", "."], "/usr/bin/python3", ["-s", "/x"])
    assert argv == ["/usr/bin/python3", str(in_tmp / "run.py"), "-s", "/x"]


def test_no_args_keeps_the_whole_interpreter_part(in_tmp: Path) -> None:
    (in_tmp / "run.py").write_text("")
    argv = command_line(["python3", "-u", "run.py"], "/usr/bin/python3", [])
    assert argv == ["/usr/bin/python3", "-u", str(in_tmp / "run.py")]


def test_word_that_is_no_file_stays_as_written(in_tmp: Path) -> None:
    argv = command_line(["python3", "missing.py", "root"], "/usr/bin/python3", ["/srv/root"])
    assert argv == ["/usr/bin/python3", "missing.py", "/srv/root"]


def test_empty_command_line_is_refused() -> None:
    with pytest.raises(ValueError, match="no original command line"):
        command_line([], "/usr/bin/python3", [])


def test_command_line_of_this_interpreter_runs(in_tmp: Path) -> None:
    """What svscan_cli builds from ``sys.orig_argv`` names an executable interpreter."""
    argv = command_line([*sys.orig_argv[:1], "-m", "mod", "root"], sys.executable, ["/r"])
    assert os.access(argv[0], os.X_OK) and os.path.isabs(argv[0])
    assert argv[1:] == ["-m", "mod", "/r"]


# --- check_program -----------------------------------------------------------------------


def test_check_program_accepts_what_is_there(tmp_path: Path) -> None:
    script = tmp_path / "svscan.py"
    script.write_text("")
    check_program([sys.executable, str(script), "-s", str(tmp_path)])
    check_program([sys.executable, "-m", "supervise.svscan_cli", str(tmp_path)])


def test_check_program_refuses_a_missing_script(tmp_path: Path) -> None:
    script = tmp_path / "gone.py"
    with pytest.raises(CannotExec, match="gone.py"):
        check_program([sys.executable, str(script), str(tmp_path)])


def test_check_program_refuses_a_missing_root(tmp_path: Path) -> None:
    with pytest.raises(CannotExec, match="no-such-root"):
        check_program([sys.executable, "-m", "m", str(tmp_path / "no-such-root")])


def test_check_program_refuses_a_missing_interpreter(tmp_path: Path) -> None:
    with pytest.raises(CannotExec, match="not executable or gone"):
        check_program([str(tmp_path / "python-gone"), "-m", "m", str(tmp_path)])


def test_check_program_refuses_a_file_that_is_not_executable(tmp_path: Path) -> None:
    plain = tmp_path / "python"
    plain.write_text("")
    plain.chmod(0o644)
    if os.access(plain, os.X_OK):  # root may execute anything with an x bit only
        pytest.skip("this user may execute a file without an x bit")
    with pytest.raises(CannotExec):
        check_program([str(plain), "-m", "m"])


def test_reexec_that_cannot_happen_returns_why(tmp_path: Path) -> None:
    """`reexec` with a missing script returns the reason and leaves no fd or mask behind."""
    import signal

    fds_before = set(os.listdir("/proc/self/fd"))
    mask_before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    failure = reexec.reexec([sys.executable, str(tmp_path / "gone.py")], b"{}", [])
    assert isinstance(failure, CannotExec) and "gone.py" in str(failure)
    assert set(os.listdir("/proc/self/fd")) == fds_before
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask_before
    assert reexec.ENV not in os.environ


def test_receive_without_handover_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(reexec.ENV, raising=False)
    assert reexec.receive() is None


def test_receive_reads_and_forgets_the_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = encode(TREE)
    fd = os.memfd_create("test-handover", 0)
    os.write(fd, payload)
    os.lseek(fd, 0, os.SEEK_SET)
    monkeypatch.setenv(reexec.ENV, str(fd))
    assert reexec.receive() == payload
    assert reexec.ENV not in os.environ
    with pytest.raises(OSError):  # noqa: PT011 - closed: EBADF
        os.fstat(fd)


def test_every_enum_field_of_state_round_trips_by_name() -> None:
    """A State field of enum type is encoded by name and decoded to the same member."""
    enum_fields = [
        field.name for field in attrs.fields(machine.State)
        if isinstance(getattr(State(), field.name), (Phase, Want))
    ]
    encoded = handover.encode_state(State())
    assert enum_fields and all(isinstance(encoded[name], str) for name in enum_fields)
    assert handover.decode_state(encoded) == State()

"""The command-line layer: messages under the program's own name, exit codes, the record type.

In process, with pytest's capture of stderr: `cmdline.out.run` names the
program, a `Fatal` becomes djb's line and its code, a library's warning
carries the name of the program that called it (qm-stop's, not svc's).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from cmdline import exits, out
from cmdline.out import Fatal, Usage, unable
from supervise import layout, record
from supervise.tai import Tai64n
from svc import svc, svok
from svc.send import send


def test_exit_codes_are_djbs() -> None:
    assert (exits.OK, exits.USAGE, exits.PERMANENT, exits.TEMPORARY) == (0, 100, 100, 111)


def test_run_says_a_fatal_under_the_programs_name(capsys: pytest.CaptureFixture[str]) -> None:
    def body(args: list[str]) -> int:
        raise Fatal(exits.TEMPORARY, unable(f"open {args[0]}", errno.ENOENT))

    assert out.run("someprog", body, ["x"]) == 111
    assert capsys.readouterr().err == "someprog: fatal: unable to open x: file does not exist\n"


def test_run_says_a_usage_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    def body(args: list[str]) -> int:
        raise Usage("someprog: usage: someprog dir")

    assert out.run("someprog", body, []) == 100
    assert capsys.readouterr().err == "someprog: usage: someprog dir\n"


def test_run_returns_the_bodys_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert out.run("someprog", lambda args: len(args), ["a", "b"]) == 2
    assert capsys.readouterr().err == ""


def test_unable_uses_djbs_texts_not_strerror() -> None:
    """``file does not exist``, not Python's "No such file or directory"."""
    assert unable("chdir to x", OSError(errno.ENOENT, "No such file or directory")) == (
        "unable to chdir to x: file does not exist"
    )
    assert unable("lock y", errno.EAGAIN) == "unable to lock y: temporary failure"


def test_library_warning_carries_the_callers_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """svc's sending, called by qm-stop, warns as qm-stop (it used to say ``svc:``)."""
    out.begin("qm-stop")
    assert not send(str(tmp_path / "missing"), b"d")
    assert capsys.readouterr().err == (
        f"qm-stop: warning: unable to chdir to {tmp_path}/missing: file does not exist\n"
    )


def test_plain_svc_exits_0_after_unable_to_control(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """daemontools' svc: a directory it cannot control is a warning, and the exit stays 0."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "unsupervised").mkdir()
    assert svc.main(["-u", "unsupervised", "missing"]) == 0
    assert capsys.readouterr().err == (
        "svc: warning: unable to control unsupervised: file does not exist\n"
        "svc: warning: unable to chdir to missing: file does not exist\n"
    )


def test_svok_names_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """svok: 100 without a supervisor, 111 (and its own name) when the directory is missing."""
    (tmp_path / "dir").mkdir()
    assert svok.main([str(tmp_path / "dir")]) == exits.PERMANENT
    assert svok.main([str(tmp_path / "missing")]) == exits.TEMPORARY
    assert capsys.readouterr().err == (
        f"svok: fatal: unable to chdir to {tmp_path}/missing: file does not exist\n"
    )


# --- the record type: plain slots, what attrs' frozen gave ---------------------------------

STAMP = Tai64n(0x400000006B01D5B5, 0x3726B4AC)


def test_record_is_immutable_and_replaced() -> None:
    status = record.Status(STAMP, 12)
    with pytest.raises(AttributeError):
        status.pid = 13
    assert status.replace(pid=13) == record.Status(STAMP, 13)
    assert status.replace(pid=13) != status
    with pytest.raises(TypeError, match="no field color"):
        status.replace(color=1)


def test_record_equality_hash_and_repr() -> None:
    a, b = record.Status(STAMP, 12), record.Status(STAMP, pid=12)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != record.Extra() and a != (STAMP, 12)
    assert repr(record.Extra(1)) == (
        "Extra(flags=1, ready_stamp=None, exit_code=0, exit_signal=0, backoff_until=None)"
    )


def test_replace_checks_through_the_constructor() -> None:
    """Tai64n.replace goes through __init__, so a bad value is refused as at construction."""
    with pytest.raises(ValueError, match="nanoseconds"):
        STAMP.replace(nanoseconds=10**9)


def test_state_of_a_record() -> None:
    """runit's byte 19 when there is one; else run if there is a pid (daemontools)."""
    assert record.Status(STAMP, 5, run_state=None).state == layout.STATE_RUN
    assert record.Status(STAMP, 0, run_state=None).state == layout.STATE_DOWN
    assert record.Status(STAMP, 5, run_state=layout.STATE_FINISH).state == layout.STATE_FINISH

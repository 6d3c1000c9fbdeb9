"""`ServiceDir`: the directory taken (refused once replaced), opened once a burst, and its
setting files read with each fault said once. Real directories, real descriptors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supervise import fsio, settings
from supervise.cgroups import Cgroups
from supervise.control import Command
from supervise.servicedir import ServiceDir
from supervise.statusfiles import StatusFiles


def taken(path: Path) -> ServiceDir:
    fd = fsio.open_dir(str(path))
    try:
        return ServiceDir(str(path), identity=fsio.identity(fd))
    finally:
        os.close(fd)


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_a_burst_opens_the_directory_once_and_closes_it(tmp_path: Path) -> None:
    where = taken(tmp_path)
    with where.burst():
        with where.opened() as first, where.opened() as second:
            assert first == second
        with where.opened() as third:
            assert third == first and is_open(third)
    assert not is_open(first)


def test_a_burst_on_a_given_descriptor_leaves_it_open(tmp_path: Path) -> None:
    where = taken(tmp_path)
    fd = fsio.open_dir(str(tmp_path))
    try:
        with where.burst(fd), where.opened() as used:
            assert used == fd
        os.fstat(fd)  # still the caller's
    finally:
        os.close(fd)


def test_outside_a_burst_each_use_opens_and_closes(tmp_path: Path) -> None:
    where = taken(tmp_path)
    with where.opened() as fd:
        assert is_open(fd)
        with where.opened() as other:
            assert other != fd
        assert not is_open(other)
    assert not is_open(fd)


def test_a_directory_recreated_in_place_is_refused(tmp_path: Path) -> None:
    service = tmp_path / "svc"
    service.mkdir()
    where = taken(service)
    service.rename(tmp_path / "old")  # kept: its inode cannot be reused for the new one
    service.mkdir()
    with pytest.raises(fsio.Replaced), where.opened():
        pass
    assert where.has_setting("down") is False
    assert where.read_setting("timeout-kill", settings.parse_ms, 7) == 7


def test_a_bad_setting_gives_its_default_and_is_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "timeout-kill").write_text("soon\n")
    where = taken(tmp_path)
    assert where.read_setting("timeout-kill", settings.parse_ms, 7) == 7
    assert where.read_setting("timeout-kill", settings.parse_ms, 7) == 7
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1 and "timeout-kill" in said[0] and "soon" in said[0], said
    (tmp_path / "timeout-kill").write_text("250\n")
    assert where.read_setting("timeout-kill", settings.parse_ms, 7) == 250
    (tmp_path / "timeout-kill").write_text("soon\n")
    assert where.read_setting("timeout-kill", settings.parse_ms, 7) == 7
    assert len(capsys.readouterr().err.splitlines()) == 1  # said again once it had cleared


def test_files_and_programs(tmp_path: Path) -> None:
    where = taken(tmp_path)
    assert not where.has_setting("down") and not where.has_program("finish")
    (tmp_path / "down").write_text("")
    (tmp_path / "finish").write_text("#!/bin/sh\n")
    assert where.has_setting("down") and not where.has_program("finish")
    (tmp_path / "finish").chmod(0o755)
    assert where.has_program("finish")


def test_signal_group_is_read_once_a_burst(tmp_path: Path) -> None:
    where = taken(tmp_path)
    assert where.signal_group() == frozenset()
    (tmp_path / "signal-group").write_text("h\n")
    with where.burst():
        assert where.signal_group() == {Command.HUP}
        (tmp_path / "signal-group").write_text("t\n")
        assert where.signal_group() == {Command.HUP}  # the burst's value
    assert where.signal_group() == {Command.TERM}  # read again after it


def test_status_files_replace_only_what_changed_and_say_a_failure_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`StatusFiles.update` through a `ServiceDir`: what changed is replaced, the rest left
    alone; a file that cannot be written is said once and does not stop the others."""
    (tmp_path / "supervise").mkdir()
    where, files = taken(tmp_path), StatusFiles()
    assert files.update(where, [("stat", b"run\n"), ("status", b"1")])
    stat_inode = (tmp_path / "supervise" / "stat").stat().st_ino
    assert files.update(where, [("stat", b"run\n"), ("status", b"2")])
    assert (tmp_path / "supervise" / "stat").stat().st_ino == stat_inode  # not rewritten
    assert (tmp_path / "supervise" / "status").read_bytes() == b"2"
    (tmp_path / "supervise" / "pid").mkdir()
    for _ in range(2):
        assert not files.update(where, [("pid", b"7\n"), ("status", b"3")])
    assert (tmp_path / "supervise" / "status").read_bytes() == b"3"
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1 and f"unable to write {tmp_path}/supervise/pid" in said[0], said


def test_the_cgroup_is_made_once_kept_across_a_rename_and_removed_when_let_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The naming and bookkeeping, on a plain directory tree standing in for the cgroup2
    mount (real cgroups: tests/integration/test_tree.py)."""
    own = tmp_path / "cgroup"
    base = own / "supervise.1.2"
    base.mkdir(parents=True)
    service = tmp_path / "svc"
    service.mkdir()
    where, groups = taken(service), Cgroups(str(own), str(base))
    assert where.cgroup(None) is None
    made = where.cgroup(groups)
    assert made is not None and Path(made).parent == base and Path(made).is_dir()
    assert made == groups.path_for(str(service), os.stat(service).st_ino)
    where.path = str(tmp_path / "renamed")  # svscan followed a rename: the same cgroup
    assert where.cgroup(groups) == made
    (Path(made) / "busy").write_text("")  # rmdir fails, as on a populated cgroup
    where.remove_cgroup(groups)
    assert Path(made).is_dir()
    assert f"processes are left in {made}: it is kept" in capsys.readouterr().err
    (Path(made) / "busy").unlink()
    where.remove_cgroup(groups)
    assert not Path(made).exists()

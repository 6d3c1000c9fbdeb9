"""svc.view.read on real files: which xstatus belongs to which status.

A FIFO whose read end the test holds stands in for a listening supervisor. Our
daemon replaces ``xstatus`` and then ``status``; a reader between the two
renames must not take "the xstatus does not match" for "there is none" (that
made ``svc -wU`` see an unready service as ready), while an xstatus left by an
earlier supervisor must be ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from supervise import layout, record
from supervise.tai import Tai64n
from svc import view

LABEL = 0x400000006B01D5B5


def status_bytes(label: int, pid: int) -> bytes:
    return record.pack(record.Status(Tai64n(label, 500), pid, False, layout.WANT_UP, False,
                                     layout.STATE_RUN))


def xstatus(flags: int, bound_to: bytes) -> bytes:
    return record.pack_extra(record.Extra(flags), bound_to)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Path]:
    """A directory whose supervise/ok has a reader (this test), so it reads as supervised."""
    supervise = tmp_path / "s" / "supervise"
    supervise.mkdir(parents=True)
    os.mkfifo(supervise / "ok")
    fd = os.open(supervise / "ok", os.O_RDONLY | os.O_NONBLOCK)
    cwd = os.getcwd()
    try:
        yield tmp_path / "s"
    finally:
        os.chdir(cwd)
        os.close(fd)


def _read(service: Path) -> view.View:
    cwd = os.getcwd()
    try:
        return view.read(str(service))
    finally:
        os.chdir(cwd)


def test_matching_xstatus_is_used(service: Path) -> None:
    """An xstatus written with this status: its flags count (NOTIFY, not READY: not ready)."""
    status = status_bytes(LABEL, 42)
    (service / "supervise" / "status").write_bytes(status)
    (service / "supervise" / "xstatus").write_bytes(xstatus(layout.NOTIFY, status))
    v = _read(service)
    assert v.extra is not None and v.up and not v.ready


def test_stale_xstatus_is_ignored_at_once(service: Path) -> None:
    """An xstatus bound to an older status (another supervisor took over): ignored."""
    (service / "supervise" / "status").write_bytes(status_bytes(LABEL + 100, 42))
    (service / "supervise" / "xstatus").write_bytes(xstatus(layout.NOTIFY, status_bytes(LABEL, 41)))
    v = _read(service)
    assert v.extra is None and v.ready  # up, and no readiness information: ready


def test_torn_read_waits_for_the_status_that_follows(
    service: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """xstatus bound to a newer status: read again until that status is in place.

    The writer's second rename happens during the reader's first pause (its
    sleep is where the writer gets to run), so the test does not race.
    """
    new_status = status_bytes(LABEL + 1, 43)
    (service / "supervise" / "status").write_bytes(status_bytes(LABEL, 42))
    (service / "supervise" / "xstatus").write_bytes(xstatus(layout.NOTIFY, new_status))
    pauses: list[float] = []

    def writer_runs(seconds: float) -> None:
        pauses.append(seconds)
        path = service / "supervise" / "status.new"
        path.write_bytes(new_status)
        path.rename(service / "supervise" / "status")

    monkeypatch.setattr(view.time, "sleep", writer_runs)
    v = _read(service)
    assert pauses == [view.TORN_PAUSES[0]]
    assert v.pid == 43 and v.extra is not None and not v.torn and not v.ready


def test_torn_read_that_never_resolves_gives_no_extra(service: Path) -> None:
    """If the status never follows (its write failed), the reader gives up: readiness unknown.

    Up with no extra would otherwise count as ready; a torn view is never ready.
    """
    (service / "supervise" / "status").write_bytes(status_bytes(LABEL, 42))
    (service / "supervise" / "xstatus").write_bytes(
        xstatus(layout.NOTIFY, status_bytes(LABEL + 1, 43))
    )
    v = _read(service)
    assert v.pid == 42 and v.extra is None and v.torn
    assert v.up and not v.ready


def test_no_listener_keeps_the_last_status(tmp_path: Path) -> None:
    """No reader on ok: svstat's error, and the fields of the last status written."""
    supervise = tmp_path / "s" / "supervise"
    supervise.mkdir(parents=True)
    os.mkfifo(supervise / "ok")
    (supervise / "status").write_bytes(status_bytes(LABEL, 0))
    v = _read(tmp_path / "s")
    assert (v.error, v.fault) == ("supervise not running", view.NOT_RUNNING)
    assert v.status is not None and v.pid == 0


def test_extra_newer_compares_the_bound_stamp() -> None:
    """layout.extra_newer: the xstatus's copy of the stamp against the status's own."""
    old, new = status_bytes(LABEL, 1), status_bytes(LABEL + 1, 2)
    assert layout.extra_newer(xstatus(0, new), old)
    assert not layout.extra_newer(xstatus(0, old), new)
    assert not layout.extra_newer(xstatus(0, old), old)


def test_extra_newer_same_stamp_other_pid() -> None:
    """./finish starts under the same stamp as ./run: another pid there is newer, too."""
    run, finish = status_bytes(LABEL, 41), status_bytes(LABEL, 42)
    assert layout.extra_newer(xstatus(0, finish), run)

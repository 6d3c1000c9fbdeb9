"""supervise.cgroups' pure checks: which cgroup a daemon of ours made (by its path's text),
before one left by a daemon killed -9 is taken over or removed."""

from __future__ import annotations

import os

import pytest

from supervise import cgroups

OWN = "/sys/fs/cgroup/system.slice/svscan.service"


@pytest.mark.parametrize(
    ("name", "pid"),
    [
        ("supervise.4242.1234567", 4242),
        ("supervise.1.0", 1),
        ("supervise.x.1", None),
        ("supervise.", None),
        ("other.4242.1", None),
        ("web.12", None),
    ],
)
def test_daemon_pid(name: str, pid: int | None) -> None:
    assert cgroups.daemon_pid(name) == pid


@pytest.mark.parametrize(
    ("where", "subtree"),
    [
        (f"{OWN}/supervise.4242.99/web.12", "supervise.4242.99"),
        (f"{OWN}//supervise.4242.99/web.12/", "supervise.4242.99"),  # as normpath reads it
        (f"{OWN}/supervise.4242.99", None),  # the subtree itself, not a service's
        (f"{OWN}/supervise.4242.99/web.12/deeper", None),
        (f"{OWN}/other/web.12", None),  # not of our kind
        (f"{OWN}/supervise.4242.99/../../elsewhere/web.12", None),
        ("/sys/fs/cgroup/supervise.4242.99/web.12", None),  # outside our own cgroup
        (f"{OWN}-other/supervise.4242.99/web.12", None),
        ("supervise.4242.99/web.12", None),  # relative
    ],
)
def test_service_subtree_only_inside_our_own(where: str, subtree: str | None) -> None:
    assert cgroups.service_subtree(OWN, where) == subtree
    assert cgroups.service_subtree(OWN + "/", where) == subtree


def test_stale_is_a_gone_daemon_of_our_kind() -> None:
    """A live process's PID.START is not stale (this one's: a live daemon, or ourselves);
    the same pid with another start time is (a daemon gone, its pid reused)."""
    mine = cgroups.identity(os.getpid())
    assert not cgroups.stale(cgroups.PREFIX + mine)
    pid, _, start = mine.partition(".")
    assert cgroups.stale(f"{cgroups.PREFIX}{pid}.{int(start) + 1}")
    assert not cgroups.stale("web.12")

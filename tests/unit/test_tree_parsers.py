"""supervise.tree: the file that names a tree, and finding our own cgroup (pure parsers).

The /proc texts are shaped as proc(5) and cgroups(7) give them: a unified host, a hybrid
one (cgroup2 at /sys/fs/cgroup/unified beside the v1 controllers: this machine), a
container whose cgroup namespace root is a sub-cgroup.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from supervise import tree

HYBRID_CGROUP = """9:name=systemd:/
4:memory:/process_api/85065f1b
1:cpu:/
0::/
"""
UNIFIED_CGROUP = "0::/system.slice/svscan.service\n"
HYBRID_MOUNTS = """31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
UNIFIED_MOUNTS = """22 1 0:21 / /sys rw - sysfs sysfs rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
"""
#: In a container: the namespace root is /docker/abc on the host; the mount shows it as /.
CONTAINER_MOUNTS = "700 690 0:26 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup rw\n"
ESCAPED_MOUNTS = r"30 22 0:26 / /mnt/my\040cgroups rw - cgroup2 none rw" + "\n"


def test_own_cgroup_is_the_0_line() -> None:
    assert tree.own_cgroup(HYBRID_CGROUP) == "/"
    assert tree.own_cgroup(UNIFIED_CGROUP) == "/system.slice/svscan.service"
    assert tree.own_cgroup("4:memory:/x\n") is None, "v1 only: no cgroup2"
    assert tree.own_cgroup("0::/gone (deleted)\n") is None


@pytest.mark.parametrize(("own", "mounts", "where"), [
    ("/", HYBRID_MOUNTS, "/sys/fs/cgroup/unified"),
    ("/system.slice/svscan.service", UNIFIED_MOUNTS, "/sys/fs/cgroup/system.slice/svscan.service"),
    ("/docker/abc/init", CONTAINER_MOUNTS, "/sys/fs/cgroup/init"),
    ("/docker/abc", CONTAINER_MOUNTS, "/sys/fs/cgroup"),
    ("/elsewhere", CONTAINER_MOUNTS, None),
    ("/", ESCAPED_MOUNTS, "/mnt/my cgroups"),
    ("/", "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", None),
])
def test_locate(own: str, mounts: str, where: str | None) -> None:
    """Our cgroup's directory: its path below the root the cgroup2 mount shows."""
    assert tree.locate(own, tree.cgroup2_mounts(mounts)) == where


def test_tree_file_round_trip_and_garbage() -> None:
    assert tree.text(tree.CGROUP, "/sys/fs/cgroup/a/b.1") == b"cgroup /sys/fs/cgroup/a/b.1\n"
    assert tree.parse(b"cgroup /sys/fs/cgroup/a/b.1\n") == ("cgroup", "/sys/fs/cgroup/a/b.1")
    assert tree.parse(tree.text(tree.SESSION, 4711)) == ("session", "4711")
    for garbage in (b"", b"cgroup relative\n", b"session 0\n", b"session x\n", b"pgrp 12\n",
                    b"session 12\nsession 13\n", b"\xff\n"):
        assert tree.parse(garbage) is None, garbage


@pytest.mark.parametrize(
    ("cgroup", "session", "line"),
    [
        ("/cg/supervise.7.99/web.12", 4711, "cgroup /cg/supervise.7.99/web.12"),
        (None, 4711, "session 4711"),
        ("", 4711, "session 4711"),
        (None, None, ""),  # nosetsid without cgroups: nothing followed
    ],
)
def test_followed_prefers_the_cgroup_then_the_session(
    cgroup: str | None, session: int | None, line: str
) -> None:
    """What `State.tree` holds for a ./run: a cgroup if it has one, else its session;
    the line of supervise/tree, which `parse` reads back."""
    assert tree.followed(cgroup, session) == line
    if line:
        assert tree.parse(line.encode() + b"\n") == tuple(line.split(" "))


def test_session_members_and_a_name_with_parentheses() -> None:
    """A process named ``a) b (c`` in a session of its own is found, and only it: the
    fields of /proc/PID/stat are read after the last ``)``."""
    code = ("import os, time; os.setsid(); open('/proc/self/comm', 'w').write('a) b (c'); "
            "print(flush=True); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child.stdout.readline()
        with open(f"/proc/{child.pid}/comm") as comm:
            assert comm.read() == "a) b (c\n"
        assert tree.members(tree.SESSION, str(child.pid)) == [child.pid]
        fields = tree.stat_fields(child.pid)
        assert fields is not None and fields[3] == str(child.pid)
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    assert tree.members(tree.SESSION, str(child.pid)) == []
    assert tree.members(tree.CGROUP, "/nonexistent/cgroup") is None
    assert os.getpid() in tree.session_members(os.getsid(0))


def test_usage_of_a_session_is_unknown() -> None:
    assert tree.usage(tree.SESSION, "1") == (None, None)

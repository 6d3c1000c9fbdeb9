"""What svscan touches outside the tree: no network listener, and no file written.

Checked on the real daemon: its sockets from ``/proc/PID/fd`` against the
kernel's socket tables, and every file-system call that writes, traced by
strace (the daemon only, not its services, which may write where they like)
through start-up, control, a SIGHUP re-execution and shutdown.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from support import (
    Daemon,
    descendants,
    eventually,
    make_service,
    new_pid,
    own_cgroup,
    read_status,
    scan_root,
    send,
    sockets,
    started,
    with_log,
)

#: System calls that create, change or remove a name, or open for writing.
WRITERS = ("openat", "mkdirat", "mknodat", "renameat2", "renameat", "rename", "unlinkat",
           "linkat", "symlinkat", "fchmodat", "mkdir", "unlink", "creat", "chmod")
#: /proc/net tables of internet sockets.
INET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6")
#: A path strace printed for a descriptor or an argument: "..." or FD</path>.
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
DIRFD = re.compile(r"^(-?\d+|AT_FDCWD)<([^>]*)>")


def _table_inodes(name: str, column: int) -> dict[str, list[str]]:
    try:
        with open(f"/proc/net/{name}") as table:
            rows = [line.split() for line in table.readlines()[1:]]
    except FileNotFoundError:
        return {}
    return {row[column]: row for row in rows if len(row) > column}


async def test_no_network_socket_and_no_listener(tmp_path: Path, start_svscan: Any) -> None:
    root = scan_root(tmp_path)
    make_service(root, "plain", "exec sleep 1000")
    with_log(root, "logged", "echo hi; exec sleep 1000")
    daemon = start_svscan(root)
    await started(root / "plain")
    await started(root / "logged")
    sockets_held = {name[8:-1] for name in sockets(daemon.pid)}  # socket:[INODE]
    for table in INET_TABLES:  # inode is column 9 in every internet table
        assert not sockets_held & set(_table_inodes(table, 9)), f"{table} socket held"
    unix = _table_inodes("unix", 6)
    for inode in sockets_held & set(unix):
        flags = int(unix[inode][3], 16)
        assert not flags & 0x10000, f"listening unix socket {unix[inode]}"  # __SO_ACCEPTCON


def _written_paths(trace: str) -> list[str]:
    """Each path a traced call created, changed, removed or opened for writing."""
    written = []
    for line in trace.splitlines():
        call = line.split("(", 1)[0].strip()
        if call not in WRITERS or "= -1" in line:
            continue
        if call in ("openat", "creat") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT", line):
            continue
        args = line.split("(", 1)[1]
        base = ""
        dirfd = DIRFD.match(args)
        if dirfd:
            base = dirfd.group(2)
        for path in QUOTED.findall(args):
            written.append(path if path.startswith("/") or not base else f"{base}/{path}")
    return written


async def test_nothing_written_outside_the_tree(tmp_path: Path, start_daemon: Any) -> None:
    root = scan_root(tmp_path)
    plain = make_service(root, "plain", "exec sleep 1000", finish="exit 0")
    logged = with_log(root, "logged", "echo hi; exec sleep 1000")
    trace_file = tmp_path / "trace"
    tracer = start_daemon(root, program=[
        "strace", "-qq", "-yy", "-o", str(trace_file), "-e", "trace=execve," + ",".join(WRITERS),
        sys.executable, "-B", "-m", "supervise.svscan_cli",
    ])
    pid = (await started(plain)).pid
    await started(logged / "log")
    daemon = await eventually(lambda: _traced_child(tracer), what="traced svscan")
    send(plain, b"k")
    await new_pid(plain, pid)
    os.kill(daemon, signal.SIGHUP)  # re-executes: the new program is traced too
    await eventually(lambda: trace_file.read_text().count("execve(") >= 2, what="re-exec")
    send(logged, b"d")
    await eventually(lambda: read_status(logged).pid == 0, what="logged down")
    os.kill(daemon, signal.SIGTERM)
    assert tracer.wait() == 0
    written = _written_paths(trace_file.read_text())
    assert any(path.endswith("plain/supervise/status") for path in written)  # the trace works
    tree = str(root.resolve())
    outside = {path for path in written if not path.startswith(tree + "/")}
    own = own_cgroup()
    if own is not None:  # its services' cgroups, and its own cgroup.procs to move back
        ours = f"{own}/supervise.{daemon}."  # supervise.PID.START and below
        outside -= {path for path in outside if path.startswith(ours)}
        outside.discard(f"{own}/cgroup.procs")
    assert outside <= {"/dev/null"}  # opened read-write at start-up: a device, not a file


def _traced_child(tracer: Daemon) -> int:
    children = [pid for pid in descendants(tracer.pid) if _is_python(pid)]
    return children[0] if children else 0


def _is_python(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return b"supervise.svscan_cli" in file.read()
    except OSError:
        return False

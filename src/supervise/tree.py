"""A service's process tree: where it is kept, and who is in it now, read by daemon and clients.

The daemon puts each service in a cgroup v2 of its own (`supervise.cgroups`) or, where it
may not create cgroups, follows the session its ``./run`` was started in (we ``setsid``
every service: the session id is the pid of ./run, and survives the reparenting of every
process in it). Either way it writes one line in ``supervise/tree``:

    cgroup /sys/fs/cgroup/svscan.123/4242-web    (a directory of the cgroup2 mount)
    session 4711                                 (the session of the last ./run)

and any reader (``svstat``, ``svc -wE``, ``qm-stop``: clients that never load trio)
counts the tree itself from that line: ``cgroup.procs`` of the cgroup, or every
``/proc/PID/stat`` whose session field is the one named. Nothing asks the daemon, so a
reader sees the tree as it is now, not as it was at the last status write.

Also here, because the daemon and the tests both need them: the pure parsers of
``/proc/self/cgroup`` and ``/proc/self/mountinfo``. Standard library only, and not even
``typing`` at run time (clients load this module).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

#: The name of the file in ``supervise/``.
FILE = "tree"
CGROUP = "cgroup"
SESSION = "session"
#: Where a bare cgroup2 host mounts it, and where a hybrid one (v1 controllers) does.
MOUNT_GUESSES = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")


def text(kind: str, where: str | int) -> bytes:
    """The bytes of ``supervise/tree`` (``cgroup PATH`` or ``session SID``, a newline)."""
    return f"{kind} {where}\n".encode()


def followed(cgroup: str | None, session: int | None) -> str:
    """What is followed of a ./run in `cgroup` if it has one, else in `session` (its pid,
    if it leads a session of its own): the line of ``supervise/tree`` without its newline;
    empty if neither (``nosetsid`` without cgroups)."""
    if cgroup:
        return text(CGROUP, cgroup).decode().rstrip("\n")
    return "" if session is None else text(SESSION, session).decode().rstrip("\n")


def parse(data: bytes) -> tuple[str, str] | None:
    """(kind, where) from the bytes of ``supervise/tree``; None if they are not one such line."""
    try:
        line = data.decode().rstrip("\n")
    except UnicodeDecodeError:
        return None
    kind, _, where = line.partition(" ")
    if "\n" in line or not where:
        return None
    if kind == CGROUP and where.startswith("/"):
        return kind, where
    if kind == SESSION and where.isdecimal() and int(where) > 0:
        return kind, where
    return None


def read(supervise_dir: str = "supervise") -> tuple[str, str] | None:
    """What ``supervise/tree`` says, or None (absent, unreadable, not ours)."""
    try:
        with open(os.path.join(supervise_dir, FILE), "rb") as file:
            return parse(file.read(4096))
    except OSError:
        return None


# --- who is in a tree now ----------------------------------------------------------------


def members(kind: str, where: str) -> list[int] | None:
    """The pids in the tree now (sorted); None if it cannot be read (the cgroup is gone:
    nothing can be left in it, but the caller may want to say so)."""
    if kind == CGROUP:
        try:
            with open(os.path.join(where, "cgroup.procs"), "rb") as procs:
                return sorted(int(word) for word in procs.read().split())
        except (OSError, ValueError):
            return None
    return session_members(int(where))


def followed_members(followed: str) -> list[int]:
    """The processes of the tree `followed` names (`followed`'s form, as
    `machine.State.tree` holds it), now; none if it names none. This process is left
    out: the daemon passes through a service's cgroup while it spawns."""
    where = parse(followed.encode())
    found = None if where is None else members(*where)
    return [pid for pid in found or () if pid != os.getpid()]


def session_members(sid: int) -> list[int]:
    """Every live process (not a zombie) whose session is `sid`, from ``/proc``."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdecimal():
            continue
        fields = stat_fields(name)
        if fields is not None and fields[3] == str(sid) and fields[0] != "Z":
            found.append(int(name))
    return sorted(found)


def stat_fields(pid: str | int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, pgrp, session...).

    The name is in parentheses and may hold spaces and parentheses itself: the fields
    start after the last ``)``.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    _, _, rest = data.rpartition(b")")
    return rest.decode("ascii", "replace").split()


def usage(kind: str, where: str) -> tuple[int | None, int | None]:
    """(memory in bytes, CPU time in microseconds) of a cgroup; None where not known
    (a session, or a cgroup whose memory controller is not enabled)."""
    if kind != CGROUP:
        return None, None
    memory = cpu = None
    try:
        with open(os.path.join(where, "memory.current"), "rb") as current:
            memory = int(current.read())
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(where, "cpu.stat"), "rb") as stat:
            for line in stat.read().decode().splitlines():
                name, _, value = line.partition(" ")
                if name == "usage_usec":
                    cpu = int(value)
    except (OSError, ValueError):
        pass
    return memory, cpu


# --- finding our own cgroup (pure) -------------------------------------------------------


def own_cgroup(proc_self_cgroup: str) -> str | None:
    """The cgroup v2 path (``/a/b``) in the text of ``/proc/self/cgroup``: its ``0::`` line."""
    for line in proc_self_cgroup.splitlines():
        if line.startswith("0::"):
            path = line[3:]
            return path if path.startswith("/") and " (deleted)" not in path else None
    return None


def cgroup2_mounts(mountinfo: str) -> list[tuple[str, str]]:
    """(root within the hierarchy, mount point) of every cgroup2 mount in ``mountinfo``'s text.

    Fields (proc(5)): id, parent, major:minor, root, mount point, options, optional
    fields, ``-``, fstype, source, super options. Octal escapes (``\\040``) are undone.
    """
    found = []
    for line in mountinfo.splitlines():
        before, sep, after = line.partition(" - ")
        fields = before.split()
        if not sep or len(fields) < 5 or not after.split() or after.split()[0] != "cgroup2":
            continue
        found.append((_unescape(fields[3]), _unescape(fields[4])))
    return found


def locate(own: str, mounts: Iterable[tuple[str, str]]) -> str | None:
    """The directory of cgroup `own` under the first mount whose root contains it; the
    bare host's ``/sys/fs/cgroup`` first, then a hybrid host's ``unified``."""
    ordered = sorted(mounts, key=lambda mount: (mount[1] not in MOUNT_GUESSES, mount[1]))
    for root, point in ordered:
        if own == root or root == "/" or own.startswith(root.rstrip("/") + "/"):
            relative = own[len(root):] if root != "/" else own
            return point.rstrip("/") + relative if relative != "/" else point
    return None


def _unescape(field: str) -> str:
    if "\\" not in field:
        return field
    out, index = [], 0
    while index < len(field):
        chunk = field[index:index + 4]
        if chunk[:1] == "\\" and len(chunk) == 4 and chunk[1:].isdigit():
            out.append(chr(int(chunk[1:], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)

"""A cgroup v2 per service, below the daemon's own cgroup, where the daemon may create them.

Layout, all inside the cgroup the daemon was started in (``OWN``), and nothing outside it
ever touched::

    OWN/                       the daemon stays here (its cgroup is not ours to reshape)
    OWN/supervise.PID.START/   ours (`identity`): created at start, removed at exit
    OWN/supervise.PID.START/NAME  one per service and one per logger (``clock.1234``,
                               ``clock-log.1235``: the directory's name and inode)

**No window.** A child is put in its cgroup by the kernel at fork: `inside` writes the
daemon's pid in the service's ``cgroup.procs``, ``posix_spawn`` runs (its child is born
there: no instruction of it runs anywhere else, so no fork of it can escape), and the
daemon writes itself back into ``OWN``. We measured the other ways on this kind of host
(Linux 6.18, glibc 2.36, 200 spawns of a ``./run`` that exits at once): a ``/bin/sh``
helper that moves itself and then execs ``./run`` costs 0.5 ms more per start and runs a
shell's ``exec`` rules instead of ``posix_spawn``'s (a script without ``#!`` would start);
``clone3`` with ``CLONE_INTO_CGROUP`` needs glibc 2.39's ``posix_spawnattr_setcgroup_np``
(a raw ``clone3`` from Python would run interpreter code in the child). The round trip
of the daemon costs about 0.03 ms while migrations follow one another (a start-up), and
``posix_spawn`` stays as it was; but a migration takes the kernel's
``cgroup_threadgroup_rwsem`` for writing, and the first one after a quiet spell of some
20 ms waits for an RCU grace period: 5-18 ms here, once per start-up and once per lone
restart (the mount option ``favordynmods`` of the host's cgroup2 would spare it; that
mount is not ours to change).

**No internal processes.** cgroup v2 lets a cgroup with controllers enabled for its
children hold no process itself. ``supervise.PID.START`` never holds one, so the controllers
``OWN`` hands down (``cgroup.controllers``: ``memory`` where systemd's ``Delegate=``
gives it) are enabled there for the services; the daemon does not move itself out of
``OWN`` to enable more (that would reshape a cgroup it was given).

A cgroup is removed when its service is forgotten, if empty (a populated one cannot be:
what is left in it is said, and it is tried again at exit); ``supervise.PID.START`` at exit.
Leftovers of a daemon killed with ``kill -9`` (``supervise.PID.START`` of a pid that is gone)
are removed at the next start when empty; the cgroup of a ./run the next daemon takes back
(`supervise.adoption`) is emptied into that daemon's cgroup for the service, then removed.
"""

from __future__ import annotations

import contextlib
import os

from supervise import tree
from supervise.errtext import describe

TYPE_CHECKING = False  # typing costs the daemon's first pass its import time
if TYPE_CHECKING:
    from collections.abc import Iterator

#: ``SUPERVISE_CGROUPS=0`` (or ``no``, ``off``): follow sessions, create no cgroup.
SETTING = "SUPERVISE_CGROUPS"
_OFF = ("0", "no", "off", "false")
PREFIX = "supervise."
#: Rounds of moves of a dead daemon's service cgroup (`Cgroups.take_over`): each moves
#: what the last left, so only a tree forking faster than it is moved outlasts them.
MOVE_ROUNDS = 100
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-")


class Cgroups:
    """The daemon's cgroup (`own`) and its subtree for services (`base`). A plain class:
    the first pass (`supervise.prestart`) uses it before attrs is loaded."""

    __slots__ = ("_pid", "base", "own")

    def __init__(self, own: str, base: str) -> None:
        self.own = own
        self.base = base
        self._pid = str(os.getpid())

    def path_for(self, path: str, inode: int) -> str:
        """The cgroup of service directory `path` (inode `inode`): its name and last
        component's (``web``, ``web-log``) and its inode, so a directory recreated under the
        same name gets another. A renamed one keeps the cgroup its driver made (cached); an
        image re-executed after the rename names a new one for the next spawn."""
        parts = [part for part in os.path.normpath(path).split("/") if part not in ("", ".")]
        label = "".join(c if c in _SAFE else "_" for c in "-".join(parts[-2:]) or "service")
        return os.path.join(self.base, f"{label[:64]}.{inode}")

    def for_service(self, path: str, inode: int) -> str:
        """The cgroup of service directory `path`, created if missing."""
        where = self.path_for(path, inode)
        os.makedirs(where, exist_ok=True)  # and our subtree, if another daemon took it for stale
        return where

    @contextlib.contextmanager
    def inside(self, where: str) -> Iterator[bool]:
        """The daemon in cgroup `where` for the block (a spawn): whether it got there."""
        try:
            _write(os.path.join(where, "cgroup.procs"), self._pid)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            _write(os.path.join(self.own, "cgroup.procs"), self._pid)

    def remove(self, where: str) -> bool:
        """Remove a service's cgroup; False if processes are still in it."""
        try:
            os.rmdir(where)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True

    def take_over(self, old: str, pid: int, new: str) -> str | None:
        """Move the processes of `old`, the cgroup where a daemon of ours that is gone
        (``kill -9``) kept ./run `pid`, into `new`, this daemon's cgroup for the service;
        then remove `old`, and its subtree if that is now empty. None once done, else why
        not (`old` untouched unless the moves themselves fail).

        Only a service's cgroup in a subtree of our kind inside `own` whose daemon is gone
        (`service_subtree`, `stale`), holding `pid`, is touched. A process forked during
        the move is born in `old`: moved in the next round, up to `MOVE_ROUNDS`.
        """
        subtree = service_subtree(self.own, old)
        if subtree is None or not stale(subtree):
            return f"{old} is not a cgroup of a daemon of ours that is gone"
        inside = tree.members(tree.CGROUP, old)
        if inside is None or pid not in inside:
            return f"pid {pid} is not in {old}"
        procs = os.path.join(new, "cgroup.procs")
        for _ in range(MOVE_ROUNDS):
            for member in inside:
                try:
                    _write(procs, str(member))
                except ProcessLookupError:  # ended meanwhile
                    continue
                except OSError as error:
                    return f"unable to move pid {member} into {new}: {describe(error)}"
            inside = tree.members(tree.CGROUP, old) or []
            if not inside:
                break
        else:
            return f"{old} is still not empty after {MOVE_ROUNDS} rounds of moves"
        _rmdir_quietly(old)
        _rmdir_quietly(os.path.dirname(old))  # the last service taken back empties it
        return None

    def close(self) -> list[str]:
        """At exit: remove every empty cgroup of ours; the populated ones left (named)."""
        left = []
        for name in _listdir(self.base):
            where = os.path.join(self.base, name)
            if os.path.isdir(where) and not self.remove(where):
                left.append(where)
        if not left:
            self.remove(self.base)
        return left


def disabled(environ: dict[str, str]) -> bool:
    return environ.get(SETTING, "").strip().lower() in _OFF


def discover() -> tuple[Cgroups | None, str]:
    """Our subtree, set up, or None; and the line that says which tracking is in use."""
    if disabled(dict(os.environ)):
        return None, f"tracking each service in its session: cgroups disabled by {SETTING}"
    try:
        with open("/proc/self/cgroup") as mine, open("/proc/self/mountinfo") as mounts:
            own_path, mount_text = tree.own_cgroup(mine.read()), mounts.read()
    except OSError as error:
        return None, ("tracking each service in its session: unable to read /proc/self: "
                      f"{describe(error)}")
    own = None if own_path is None else tree.locate(own_path, tree.cgroup2_mounts(mount_text))
    if own is None:
        return None, "tracking each service in its session: no cgroup2 hierarchy here"
    base = os.path.join(own, PREFIX + identity(os.getpid()))
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(base)
        for probe in (base, own):  # a move needs both ends writable (the common ancestor's)
            os.close(os.open(os.path.join(probe, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC))
    except OSError as error:
        _rmdir_quietly(base)
        return None, (f"tracking each service in its session: unable to create cgroups "
                      f"in {own}: {describe(error)}")
    _enable_controllers(base)
    remove_stale(own)
    return Cgroups(own, base), f"tracking each service in a cgroup below {base}"


def _enable_controllers(base: str) -> None:
    """Enable for the services whatever controllers `base` was given (memory, cpu...)."""
    try:
        with open(os.path.join(base, "cgroup.controllers")) as given:
            names = given.read().split()
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError):
            _write(os.path.join(base, "cgroup.subtree_control"), f"+{name}")


def identity(pid: int) -> str:
    """``PID.START``: a daemon's pid and start time (clock ticks since boot, field 22 of
    ``/proc/PID/stat``), which an exec (SIGHUP) keeps. With the start time, a name is
    unique on the host even across PID namespaces (two ``supervise.1``), and a stale
    one is told from a live daemon that reuses its pid."""
    fields = tree.stat_fields(pid)
    start = fields[19] if fields is not None and len(fields) > 19 else "0"
    return f"{pid}.{start}"


def daemon_pid(name: str) -> int | None:
    """The daemon's pid in a subtree's name of our kind (``supervise.PID.START``); None
    for another name. Pure."""
    if not name.startswith(PREFIX):
        return None
    pid, _, _ = name[len(PREFIX):].partition(".")
    return int(pid) if pid.isdecimal() else None


def service_subtree(own: str, where: str) -> str | None:
    """The subtree's name (``supervise.PID.START``) if `where` is a service's cgroup in a
    subtree of our kind directly inside `own` (``OWN/supervise.PID.START/NAME``); None for
    any other path, inside `own` or not. Pure: the paths' text only."""
    own, where = os.path.normpath(own), os.path.normpath(where)
    if not os.path.isabs(where) or os.path.dirname(os.path.dirname(where)) != own:
        return None
    subtree = os.path.basename(os.path.dirname(where))
    return subtree if daemon_pid(subtree) is not None else None


def stale(name: str) -> bool:
    """Whether `name` is a subtree of our kind whose daemon is gone (``kill -9``, or the
    end of a PID namespace whose PID 1 it was): its ``PID.START`` is no live process's."""
    pid = daemon_pid(name)
    return pid is not None and identity(pid) != name[len(PREFIX):]


def remove_stale(own: str) -> None:
    """Remove the empty subtrees of our kind whose daemon is gone (`stale`); a cgroup
    still holding processes cannot be removed, and is not."""
    for name in _listdir(own):
        if not stale(name):
            continue
        subtree = os.path.join(own, name)
        for child in _listdir(subtree):
            _rmdir_quietly(os.path.join(subtree, child))
        _rmdir_quietly(subtree)


def _listdir(path: str) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(path) if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _rmdir_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _write(path: str, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)

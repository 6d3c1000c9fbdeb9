"""Taking back a ./run left running when its supervisor was killed (``kill -9``).

daemontools' supervise, started again on such a directory, starts a second
copy of the service. We read the status the dead supervisor left, and if its
pid is still the process that status describes, watch that process instead:
a pidfd, since it is no longer our child (its exit status goes to whoever
inherited it, so ours is unknown).

A pid alone proves nothing: pids are reused (here they wrap at 32768). The
process must also have started when the status says ./run started (its
start time, from ``/proc/PID/stat``, within `TOLERANCE` of the status stamp)
and lead its own session when services get one. The pidfd is taken first and
the checks made after, so the process checked is the process watched.
"""

from __future__ import annotations

import os
import stat
import time

import attrs

from supervise import fsio, layout, record, tree
from supervise.errtext import describe

#: Seconds between a process's start (fork) and the status stamp written after its exec.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from supervise.cgroups import Cgroups

TOLERANCE = 2.0
_TICKS = os.sysconf("SC_CLK_TCK")


@attrs.frozen
class ProcStat:
    """The fields of ``/proc/PID/stat`` that identify a process (pure parsing)."""

    state: str
    session: int
    start_ticks: int

    @classmethod
    def parse(cls, text: str) -> ProcStat:
        """Read the line; the command name may hold spaces and parentheses, so split after it."""
        fields = text[text.rindex(")") + 2 :].split()
        return cls(fields[0], int(fields[3]), int(fields[19]))

    def started(self, boot: float) -> float:
        """The Unix time the process started, given the Unix time of boot."""
        return boot + self.start_ticks / _TICKS


def boot_time() -> float:
    """The Unix time the machine booted, to the microsecond (``btime`` is whole seconds)."""
    return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


def is_same(proc: ProcStat, pid: int, stamp: float, boot: float, own_session: bool) -> bool:
    """Whether `proc` (at `pid`) is the ./run a status stamped `stamp` describes."""
    if proc.state in ("Z", "X"):
        return False
    if own_session and proc.session != pid:
        return False
    return abs(proc.started(boot) - stamp) <= TOLERANCE


def claim(pid: int, stamp: float, own_session: bool) -> int | None:
    """A pidfd for `pid` if it is still the process started at `stamp`; else None."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # gone (ESRCH), or pidfds unsupported: start afresh
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as file:
            proc = ProcStat.parse(file.read())
        if is_same(proc, pid, stamp, boot_time(), own_session):
            return pidfd
    except (OSError, ValueError, IndexError):
        pass
    os.close(pidfd)
    return None


def running_pid(directory: str) -> int | None:
    """The pid of the ./run `directory`'s status names, if that process still runs; else None.

    The same checks as `claim`, without keeping a pidfd: for finding the ends
    of a log pipe, which the processes on both sides still hold.
    """
    try:
        fd = os.open(os.path.join(directory, "supervise", "status"),
                     os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            data = os.read(fd, 64)
        finally:
            os.close(fd)
        status = record.unpack(data)
        pid = status.pid
        if not pid or status.run_state not in (None, layout.STATE_RUN):
            return None
        own_session = not os.path.lexists(os.path.join(directory, "nosetsid"))
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as file:
            proc = ProcStat.parse(file.read())
    except (OSError, ValueError, IndexError):
        return None
    return pid if is_same(proc, pid, status.stamp.unix(), boot_time(), own_session) else None


def recover_pipe(name: str) -> tuple[int, int] | None:
    """Both ends of the log pipe of service `name` left by a killed svscan, or None.

    Its logger still reads it on fd 0, the service still writes it on fd 1;
    opening either through ``/proc/PID/fd`` gives a new descriptor for the same
    pipe, so the new svscan holds it as the old one did and no line is lost.
    """
    for directory, number in ((os.path.join(name, "log"), 0), (name, 1)):
        pid = running_pid(directory)
        if pid is None:
            continue
        path = f"/proc/{pid}/fd/{number}"
        try:
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                continue
            read_end = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            write_end = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            os.close(read_end)
            continue
        os.set_blocking(read_end, True)
        os.set_blocking(write_end, True)
        return read_end, write_end
    return None


def tree_taken_back(
    pid: int, supervise_fd: int, own_session: bool, cgroups: Cgroups | None, new: str | None
) -> tuple[str, str | None]:
    """The tree to follow for ./run `pid`, taken back, as one of our starts follows its
    own: its processes moved from the dead daemon's cgroup, which ``supervise/tree``
    still names, into `new`, this daemon's cgroup for the service (`Cgroups.take_over`);
    without cgroups, or if they could not be moved, its session if it leads one. Then
    why they could not be moved, to be said, or None."""
    session = pid if own_session else None
    if cgroups is None or new is None:
        return tree.followed(None, session), None
    try:
        old = tree.parse(fsio.read_small(supervise_fd, tree.FILE, 4096) or b"")
    except OSError as error:
        why: str | None = f"unable to read supervise/{tree.FILE}: {describe(error)}"
    else:
        why = (f"supervise/{tree.FILE} names no cgroup" if old is None or old[0] != tree.CGROUP
               else cgroups.take_over(old[1], pid, new))
    if why is None:
        return tree.followed(new, None), None
    then = "its session is followed" if own_session else "its processes are not followed"
    return tree.followed(None, session), f"unable to move run (pid {pid}) into {new}: {why}; {then}"

"""The single owner of child exit statuses, and the one way children are started.

Every child of the daemon is started by `Reaper.spawn` and reaped by
`Reaper.run`, which answers SIGCHLD with ``waitpid(-1, WNOHANG)`` until
nothing is left: no zombie stays, and no other code calls ``wait`` and steals
a status. A pid we did not start (an orphan, when we are a subreaper or PID 1)
is reaped and dropped.

Children are started by `supervise.spawn`: libc's ``posix_spawn``, no shell,
no Python in the child, every signal disposition default (glibc's own two
included), an empty signal mask, a new session unless asked otherwise, the
service directory as the working directory.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import attrs
import trio

from supervise import inject, say, spawn
from supervise.cgroups import Cgroups

ExitCallback = Callable[[int], None]


@attrs.define(eq=False)
class Reaper:
    """Spawns children and dispatches each exit status to the callback given at spawn."""

    #: The children's environment, taken once (the daemon never changes its own).
    environment: spawn.Environment = attrs.field(
        factory=lambda: spawn.Environment(os.environb)
    )
    _waiting: dict[int, ExitCallback] = attrs.field(factory=dict)
    #: Where services get a cgroup of their own (`supervise.cgroups`); None: sessions only.
    cgroups: Cgroups | None = None

    def spawn(
        self,
        dir_fd: int,
        program: str,
        args: list[str],
        on_exit: ExitCallback,
        *,
        setsid: bool = True,
        fds: dict[int, int] | None = None,
        cgroup: str | None = None,
    ) -> int:
        """Start ``program`` (relative to `dir_fd`, which becomes its cwd); return its pid.

        `fds` maps a child fd number to one of ours (dup2 in the child). `cgroup`: the
        child is born in that cgroup (`Cgroups.inside`), if it may be.
        `on_exit` gets the wait status once, from the trio thread. Raises
        OSError if the program cannot be executed (posix_spawn reports it).
        """
        if cgroup is None or self.cgroups is None:
            pid = spawn.spawn(dir_fd, program, args, self.environment, setsid=setsid, fds=fds)
        else:
            with self.cgroups.inside(cgroup) as entered:
                pid = spawn.spawn(dir_fd, program, args, self.environment, setsid=setsid, fds=fds)
            if not entered:
                say.warning(f"unable to enter cgroup {cgroup}: pid {pid} started outside it")
        self._waiting[pid] = on_exit
        return pid

    def signal(self, pid: int, signum: int, group: bool = False) -> None:
        """Send `signum` to our child `pid`, if it is still there; with `group`, to the
        process group it leads (-pid), or to `pid` alone if it leads none (``nosetsid``).

        Never to pid 0 or below: those would signal our own group, or everyone; and a
        group only of a pid above 1, so that -pid is never -1 (everyone) or 0 (ours).
        """
        if pid <= 0:
            return
        target = pid
        try:
            if group and pid > 1 and os.getpgid(pid) == pid:
                target = -pid
            os.kill(target, signum)
        except ProcessLookupError:
            pass

    def adopt(self, pid: int, on_exit: ExitCallback) -> None:
        """Take `pid`, started by the daemon this one re-executed from, as if spawned here."""
        self._waiting[pid] = on_exit

    @property
    def children(self) -> int:
        """How many of our own children are running (orphans we reap are not counted)."""
        return len(self._waiting)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reap children for as long as the daemon lives."""
        with trio.open_signal_receiver(signal.SIGCHLD) as signals:
            task_status.started()
            self.reap()
            async for _ in signals:
                self.reap()

    def reap(self) -> None:
        """Collect every exited child now, dispatching known ones to their callbacks."""
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            callback = self._waiting.pop(pid, None)
            if callback is None:
                continue  # an orphan we inherited: reaped, nothing to tell
            inject.point("reap")
            try:
                callback(wait_status)
            except Exception as error:  # a broken callback must not stop reaping for all
                say.warning(f"internal error handling the exit of pid {pid}: {error!r}")


def describe_wait(wait_status: int) -> tuple[int | None, int]:
    """(exit code or None, signal or 0) of a wait status."""
    if os.WIFSIGNALED(wait_status):
        return None, os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status), 0

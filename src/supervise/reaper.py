"""The single owner of child exit statuses, and the one way children are started.

Every child of the daemon is started by `Reaper.spawn` and reaped by
`Reaper.run`, which answers SIGCHLD with ``waitpid(-1, WNOHANG)`` until
nothing is left: no zombie stays, and no other code calls ``wait`` and steals
a status. A pid we did not start (an orphan, when we are a subreaper or PID 1)
is reaped and dropped.

Children are started with ``posix_spawn``: no shell, no Python in the child,
all signal dispositions reset to default, an empty signal mask, a new session
unless asked otherwise. ``posix_spawn`` has no chdir action, so the daemon
fchdir()s into the service directory around the call and back: the trio
thread is the only one that uses the working directory.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import attrs
import trio

from supervise import say

#: Signals reset to their default action in every child (SIGPIPE is ignored
#: by Python, and a shell that started us in the background ignores INT/QUIT).
_DEFAULT_SIGNALS = frozenset(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP}

ExitCallback = Callable[[int], None]


@attrs.define(eq=False)
class Reaper:
    """Spawns children and dispatches each exit status to the callback given at spawn."""

    home_fd: int = attrs.field(factory=lambda: os.open(".", os.O_RDONLY | os.O_CLOEXEC))
    #: The children's environment, taken once: converting ``os.environ`` costs a
    #: fifth of each spawn, and the daemon never changes its environment.
    environment: dict[bytes, bytes] = attrs.field(factory=lambda: dict(os.environb))
    _waiting: dict[int, ExitCallback] = attrs.field(factory=dict)

    def spawn(
        self,
        dir_fd: int,
        program: str,
        args: list[str],
        on_exit: ExitCallback,
        *,
        setsid: bool = True,
        fds: dict[int, int] | None = None,
    ) -> int:
        """Start ``program`` (relative to `dir_fd`, which becomes its cwd); return its pid.

        `fds` maps a child fd number to one of ours (dup2 in the child).
        `on_exit` gets the wait status once, from the trio thread. Raises
        OSError if the program cannot be executed (posix_spawn reports it).
        """
        actions = [(os.POSIX_SPAWN_DUP2, ours, theirs) for theirs, ours in (fds or {}).items()]
        os.fchdir(dir_fd)
        try:
            pid = os.posix_spawn(
                program,
                [program, *args],
                self.environment,
                file_actions=actions,
                setsid=setsid,
                setsigdef=_DEFAULT_SIGNALS,
                setsigmask=(),
            )
        finally:
            os.fchdir(self.home_fd)
        self._waiting[pid] = on_exit
        return pid

    def signal(self, pid: int, signum: int) -> None:
        """Send `signum` to our child `pid`, if it is still there.

        Never to pid 0 or below: those would signal our own group, or everyone.
        """
        if pid > 0:
            try:
                os.kill(pid, signum)
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
            try:
                callback(wait_status)
            except Exception as error:  # a broken callback must not stop reaping for all
                say.warning(f"internal error handling the exit of pid {pid}: {error!r}")


def describe_wait(wait_status: int) -> tuple[int | None, int]:
    """(exit code or None, signal or 0) of a wait status."""
    if os.WIFSIGNALED(wait_status):
        return None, os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status), 0

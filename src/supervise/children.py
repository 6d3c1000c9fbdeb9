"""The processes of one service directory: ./run, its readiness pipe, ./finish, adopted ones.

Every start, exit and readiness line becomes a machine input, posted with the
number of the start of ./run it belongs to (`machine.RunExited.run`,
`machine.Ready.run`), so the machine can tell a late one from a current one.
A ./run taken back after a ``kill -9`` of the daemon is not our child: it is
watched with a pidfd, and its exit status is unknown (`machine.UNKNOWN_EXIT`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import attrs

from supervise import fsio, machine, tree
from supervise.readers import Readers
from supervise.reaper import Reaper, describe_wait

Post = Callable[[machine.Event], None]


@attrs.define(eq=False)
class Children:
    """Starts a service's programs and turns what they do into inputs for `post`.

    `stdin`/`stdout`, when given, become fd 0/1 of ./run and ./finish (svscan's
    log pipe). `has_finish` tells, when ./run ends, whether ./finish is there.
    """

    reaper: Reaper
    readers: Readers
    post: Post
    has_finish: Callable[[], bool]
    stdin: int | None = None
    stdout: int | None = None
    ready_fd: int | None = None  # the readiness pipe of start number `ready_run`
    ready_run: int = 0
    _pidfd: int | None = None

    def start_run(
        self, service_fd: int, run: int, setsid: bool, notify_fd: int | None,
        cgroup: str | None = None,
    ) -> machine.Spawned:
        """Start ./run as start number `run`, with a readiness pipe on `notify_fd` if given,
        in `cgroup` if given (else its tree is its session, if it has one of its own).

        OSError if it cannot be started.
        """
        child_fds = self._stdio()
        ready_read = ready_write = None
        if notify_fd is not None:
            ready_read, ready_write = _pipe_avoiding(notify_fd)
            child_fds[notify_fd] = ready_write
        try:
            pid = self.reaper.spawn(
                service_fd, "./run", [], functools.partial(self._run_ended, run),
                setsid=setsid, fds=child_fds, cgroup=cgroup,
            )
        except OSError:
            fsio.close_quietly(ready_read, ready_write)
            raise
        fsio.close_quietly(ready_write)
        self.close_ready()  # an older start's
        if ready_read is not None:
            self.ready_fd, self.ready_run = ready_read, run
            self.readers.watch(ready_read, self._read_ready)
        followed = tree.followed(cgroup, pid if setsid else None)
        return machine.Spawned(pid, ready_read is not None, followed)

    def start_finish(
        self, service_fd: int, code: int, signum: int, setsid: bool, cgroup: str | None = None
    ) -> machine.FinishSpawned:
        """Start ./finish with how ./run ended (in the service's `cgroup`, if it has one);
        OSError if it cannot be started."""
        pid = self.reaper.spawn(
            service_fd, "./finish", [str(code), str(signum)], self._finish_ended,
            setsid=setsid, fds=self._stdio(), cgroup=cgroup,
        )
        return machine.FinishSpawned(pid)

    def signal(self, pid: int, signum: int, group: bool = False) -> None:
        self.reaper.signal(pid, signum, group)

    def resume(self, state: machine.State) -> None:
        """After a re-exec: wait again for our child of `state`; its readiness pipe is ours."""
        if self.ready_fd is not None:
            self.readers.watch(self.ready_fd, self._read_ready)
        pid = state.pid
        if pid <= 0 or not is_child(pid):
            return
        if state.phase is machine.Phase.FINISH:
            self.reaper.adopt(pid, self._finish_ended)
        else:
            self.reaper.adopt(pid, functools.partial(self._run_ended, state.starts))

    def watch_adopted(self, pidfd: int, run: int) -> None:
        """Watch ./run start number `run`, not our child, through its pidfd."""
        self._close_pidfd()
        self._pidfd = pidfd
        self.readers.watch(pidfd, functools.partial(self.adopted_ended, run))

    def adopted_ended(self, run: int) -> None:
        """An adopted ./run ended (or was found gone): its exit status is not ours to know."""
        self._close_pidfd()
        self.post(machine.RunExited(*machine.UNKNOWN_EXIT, self.has_finish(), run=run))

    def close(self) -> None:
        """Stop reading the readiness pipe and the pidfd (the directory is released)."""
        self.close_ready()
        self._close_pidfd()

    def close_ready(self) -> None:
        if self.ready_fd is not None:
            self.readers.forget(self.ready_fd)
            os.close(self.ready_fd)
            self.ready_fd = None

    def _stdio(self) -> dict[int, int]:
        pairs = ((0, self.stdin), (1, self.stdout))
        return {theirs: ours for theirs, ours in pairs if ours is not None}

    def _run_ended(self, run: int, wait_status: int) -> None:
        code, signum = describe_wait(wait_status)
        self.post(machine.RunExited(code, signum, self.has_finish(), run=run))

    def _finish_ended(self, wait_status: int) -> None:
        self.post(machine.FinishExited(describe_wait(wait_status)[0]))

    def _read_ready(self) -> None:
        """Read the readiness pipe: a newline is readiness of the start it was made for."""
        if self.ready_fd is None:
            return
        try:
            data = os.read(self.ready_fd, 4096)
        except BlockingIOError:
            return
        if data and b"\n" not in data:
            return
        run = self.ready_run
        self.close_ready()
        if data:
            self.post(machine.Ready(run))

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            self.readers.forget(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None


def is_child(pid: int) -> bool:
    """Whether `pid` is our own child (we can wait for it), without reaping it."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _pipe_avoiding(target: int) -> tuple[int, int]:
    """A close-on-exec pipe whose ends are not `target` (dup2 onto itself would keep CLOEXEC).

    Its read end does not block: it is read only when `Readers` says it is readable.
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    while target in (read_end, write_end):
        spare = os.pipe2(os.O_CLOEXEC)
        fsio.close_quietly(read_end, write_end)
        read_end, write_end = spare
    os.set_blocking(read_end, False)
    return read_end, write_end

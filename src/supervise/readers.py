"""One task waits on every control FIFO, readiness pipe and pidfd the daemon reads.

Why: a trio task per descriptor cost each supervised directory a task, its
coroutine frames and a nursery, about a third of its memory. Here every such
descriptor is registered in one level-triggered epoll set of our own; a single
task sleeps until that set is readable, then calls the callback of each ready
descriptor. Callbacks run in the trio thread and must not block: they read
once what is there (a readable descriptor never blocks a read). One that
raises is said, and its descriptor is forgotten; the task and the others go on.

A descriptor must be forgotten before it is closed: epoll forgets a closed
descriptor only when no copy of it is left open anywhere, and a number reused
for another file would otherwise still call the old callback.
"""

from __future__ import annotations

import select
from collections.abc import Callable

import attrs
import trio

from supervise.say import warning

Callback = Callable[[], None]


@attrs.define(eq=False)
class Readers:
    """The daemon's one reader: `watch` a descriptor with a callback, `forget` it before closing."""

    _epoll: select.epoll = attrs.field(factory=select.epoll)  # close-on-exec
    _callbacks: dict[int, Callback] = attrs.field(factory=dict)

    def watch(self, fd: int, callback: Callback) -> None:
        """Call `callback` whenever `fd` is readable (or at end of file, or hung up)."""
        if fd in self._callbacks:
            self._epoll.modify(fd, select.EPOLLIN)
        else:
            self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def forget(self, fd: int) -> None:
        """Stop watching `fd` (a no-op for one not watched)."""
        if self._callbacks.pop(fd, None) is None:
            return
        try:
            self._epoll.unregister(fd)
        except (OSError, ValueError):  # fd closed (epoll dropped it), or the set itself closed
            pass

    def __contains__(self, fd: int) -> bool:
        return fd in self._callbacks

    def fileno(self) -> int:
        """The epoll set's own descriptor (for the state dump)."""
        return self._epoll.fileno()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the callbacks until cancelled."""
        task_status.started()
        try:
            while True:
                await trio.lowlevel.wait_readable(self._epoll.fileno())
                self._serve(self._epoll.poll(0))
        except trio.Cancelled:
            self._epoll.close()  # the daemon is done; after a fault, it runs again
            raise

    def _serve(self, ready: list[tuple[int, int]]) -> None:
        for fd, _events in ready:
            callback = self._callbacks.get(fd)
            if callback is None:
                continue
            try:
                callback()
            except Exception as error:  # one bad descriptor must not end the others
                warning(f"reading fd {fd} failed, no longer read: {error!r}")
                self.forget(fd)

"""Sleep until a supervisor changes a status file or lets go of ``supervise/ok``.

Linux inotify through ctypes (the standard library has no binding): one watch
on each ``supervise/`` directory for a file renamed into it (daemontools,
runit and we replace ``status`` by rename) or written in place (encore), and
one on ``supervise/ok`` for the supervisor's read end being closed (it
exited). Our own reads and our own open of ``ok`` for writing raise none of
these events, so a waiting client wakes only when something happened. Where
inotify is not available, a sleep that doubles from 20 ms up to half a second
stands in; with inotify a check every 2 s still covers file systems that do
not report events (NFS).
"""

from __future__ import annotations

import os
import select
import time

from supervise import inotify, tree

DIRECTORY_EVENTS = (
    inotify.IN_MOVED_TO | inotify.IN_MODIFY | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF
)
OK_EVENTS = inotify.IN_CLOSE_NOWRITE | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF

SAFETY_CHECK = 2.0  # seconds between checks even when no event came
TREE_POLL = 0.1  # seconds between counts of a tree followed by session (no event for it)
FIRST_SLEEP = 0.02  # without inotify
LAST_SLEEP = 0.5


class Watcher:
    """Watches the ``supervise/`` of each directory; `sleep` returns after an event or a time."""

    __slots__ = ("fd", "nap", "poll")

    def __init__(self, directories: list[str], trees: bool = False) -> None:
        self.fd = _inotify(directories)
        self.nap = FIRST_SLEEP
        self.poll = SAFETY_CHECK
        if trees:
            self._watch_trees(directories)

    def _watch_trees(self, directories: list[str]) -> None:
        """Wake when a directory's cgroup empties (``cgroup.events`` changes); a tree
        followed by its session has no such event: count it every `TREE_POLL` s."""
        for directory in directories:
            followed = tree.read(os.path.join(directory, "supervise"))
            if followed is None:
                continue
            kind, where = followed
            if kind == tree.CGROUP and self.fd is not None and inotify.add_watch(
                self.fd, os.path.join(where, "cgroup.events"), inotify.IN_MODIFY
            ):
                continue
            self.poll = TREE_POLL

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def sleep(self, limit: float | None) -> None:
        """Until an event (with inotify) or a short growing nap (without); at most `limit` s."""
        if self.fd is None:
            pause = self.nap if limit is None else min(self.nap, limit)
            self.nap = min(self.nap * 2, LAST_SLEEP)
            time.sleep(max(pause, 0))
            return
        timeout = self.poll if limit is None else min(limit, self.poll)
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if ready:
            inotify.drain(self.fd)


def _inotify(directories: list[str]) -> int | None:
    """An inotify fd watching every directory's supervise files, or None if inotify fails."""
    fd = inotify.init()
    if fd is None:
        return None
    for directory in directories:
        for name, mask in (("supervise", DIRECTORY_EVENTS), ("supervise/ok", OK_EVENTS)):
            # a failed watch (no supervise/ yet) is covered by the reads and the safety check
            inotify.add_watch(fd, os.path.join(directory, name), mask)
    return fd

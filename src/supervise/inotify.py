"""Linux inotify through ctypes (the standard library has no binding).

Shared by the clients (`svc -w` sleeps on it) and svscan (it watches the
scan root), so it imports nothing that costs start time: ctypes is loaded
only when a watch is first asked for. Every function degrades to "no
inotify" (None or False) instead of raising, and the caller falls back to
timed checks.
"""

from __future__ import annotations

import os

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_NOWRITE = 0x10
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_ONLYDIR = 0x1000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_libc: object = None


def init() -> int | None:
    """A non-blocking, close-on-exec inotify fd, or None where inotify is unavailable."""
    libc = _load()
    if libc is None:
        return None
    fd = int(libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC))  # type: ignore[attr-defined]
    return fd if fd >= 0 else None


def add_watch(fd: int, path: str, mask: int) -> bool:
    """Watch `path` for `mask` on inotify fd `fd`; False if the watch could not be added."""
    libc = _load()
    if libc is None:
        return False
    return int(libc.inotify_add_watch(fd, os.fsencode(path), mask)) >= 0  # type: ignore[attr-defined]


def drain(fd: int) -> bool:
    """Read and discard every pending event; whether there was any."""
    seen = False
    try:
        while os.read(fd, 65536):
            seen = True
    except BlockingIOError:
        pass
    return seen


def _load() -> object:
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.inotify_init1  # noqa: B018 - missing on libcs without inotify
        except (OSError, AttributeError, ImportError):
            _libc = False
    return _libc or None

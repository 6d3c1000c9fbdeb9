"""Test hook: raise a fault at a named point of the daemon, to test its self-healing.

Off unless the daemon starts with ``TRIO_SUPERVISE_INJECT=FILE`` in its
environment, and then it reads FILE only if FILE is a regular file (not a
symlink) owned by the daemon's own user with no permission for group or
others (0600, say): only that user, or root, can arm it, and they can
already do anything to the daemon. The variable is taken out of the
environment the services inherit, and given to the daemon's next image.
Each `point` the daemon passes then checks FILE: if its first word names
this point, the daemon removes FILE and raises `Injected` there (one fault
per FILE written). Points: ``spawn`` (before ./run is spawned), ``status``
(before a status write), ``control`` (before a control FIFO is read),
``scan`` (before svscan's scan), ``reap`` (after a child is reaped, before
its callback), ``export`` (while the state is exported for a re-exec: the
new image takes every service back by its pid), ``tree`` (before a re-exec,
in the signal task, outside every guard: the whole task tree dies).

`Injected` is a BaseException, so the handlers that keep one bad callback or
action from stopping the others (which catch Exception) let it through: it
escapes the task tree as a bug in the daemon would. Disarmed, `point` costs
one global look-up.
"""

from __future__ import annotations

import os
import stat

ENV = "TRIO_SUPERVISE_INJECT"
_armed: list[str] = []  # the file's path, once `arm` found the variable


class Injected(BaseException):
    """A fault injected at a point (its name is the message)."""


def arm(path: str | None) -> None:
    """Arm the hook with the variable's value (taken out of the environment at start-up:
    see `supervise.reexec.take_carried`), or disarm it (None)."""
    _armed[:] = [path] if path else []


def carried() -> dict[str, str]:
    """The variable for the next image's environment, if armed."""
    return {ENV: _armed[0]} if _armed else {}


def point(name: str) -> None:
    """Raise `Injected(name)` if the armed file asks for a fault here."""
    if _armed:
        _fire(_armed[0], name)


def _fire(path: str, name: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid()
                or info.st_mode & 0o077):
            return
        words = os.read(fd, 256).split()
    finally:
        os.close(fd)
    if words[:1] != [name.encode()]:
        return
    try:
        os.unlink(path)
    except OSError:
        return  # someone else took it
    raise Injected(name)

"""Taking a service directory: what a supervisor holds open for it, and in which order.

daemontools' order: ``supervise/`` (made 0700), ``lock`` (flocked), ``control``
(opened read-write, so it never reads EOF), ``ok`` made; the first status is
written by the caller, and only then is ``ok`` opened for reading, so a client
sees the supervisor once the status it reads is ours. Blocking system calls,
a few each, called from the trio thread; every failure becomes a `SetupError`
whose message is the line to say.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

from supervise import fsio, layout
from supervise.errtext import describe

TYPE_CHECKING = False  # typing costs the first pass (`supervise.prestart`) its import time
if TYPE_CHECKING:
    from typing import TypeVar

    from supervise import status

    T = TypeVar("T")


class SetupError(Exception):
    """A directory could not be set up; the message is the line to say."""


class Descriptors:
    """What the supervisor holds open for a directory while it supervises it: three fds.

    The directory itself and ``supervise/`` are opened only for the step that
    needs them. A plain class: the first pass uses it before attrs is loaded.
    """

    __slots__ = ("lock", "control", "ok")

    def __init__(self, lock: int, control: int | None = None, ok: int | None = None) -> None:
        self.lock = lock
        self.control = control
        self.ok = ok

    def close(self) -> None:
        """Close everything; the lock last, so no second supervisor starts too early."""
        fsio.close_quietly(self.ok, self.control, self.lock)

    def numbers(self) -> dict[str, int]:
        """Each open fd by the name of its file in ``supervise/`` (for handover and dumps)."""
        named = {"lock": self.lock, "control": self.control, "ok": self.ok}
        return {name: fd for name, fd in named.items() if fd is not None}


@contextlib.contextmanager
def opened(path: str) -> Iterator[tuple[int, int]]:
    """(the service directory, its ``supervise/``) for the setup, made if missing."""
    service_fd = attempt(f"open {path}", fsio.open_dir, path)
    try:
        supervise_fd = attempt(f"open {path}/supervise", fsio.open_supervise_dir, service_fd)
        try:
            yield service_fd, supervise_fd
        finally:
            os.close(supervise_fd)
    finally:
        os.close(service_fd)


def take(path: str, supervise_fd: int) -> Descriptors:
    """The lock (`fsio.LockHeld` if another supervisor has it), ``control``, and ``ok`` made."""
    fds = Descriptors(attempt(f"open {path}/supervise/lock", fsio.take_lock, supervise_fd))
    try:
        fds.control = attempt(
            f"open {path}/supervise/control", fsio.open_fifo, supervise_fd, "control",
            read_write=True,
        )
        attempt(f"create {path}/supervise/ok", fsio.make_fifo, supervise_fd, "ok")
    except BaseException:
        fds.close()
        raise
    return fds


def open_ok(path: str, fds: Descriptors, supervise_fd: int) -> str | None:
    """Open ``ok`` for reading (the first status is written by now); the fault, if any."""
    try:
        fds.ok = fsio.open_fifo(supervise_fd, "ok", create=False)
    except OSError as error:  # made and checked a moment ago: replaced meanwhile
        return f"unable to open {path}/supervise/ok: {describe(error)}"
    return None


def last_status(supervise_fd: int) -> tuple[status.Status | None, status.Extra | None]:
    """The status (and the xstatus bound to it) a previous supervisor left; None if unusable."""
    from supervise import status
    try:
        record_bytes = fsio.read_small(supervise_fd, "status")
        extra_bytes = fsio.read_small(supervise_fd, "xstatus")
    except OSError:
        return None, None
    if record_bytes is None:
        return None, None
    try:
        record = status.unpack(record_bytes)
    except status.StatusFormatError:
        return None, None
    extra = None
    if extra_bytes is not None and layout.extra_matches(extra_bytes, record_bytes):
        try:
            extra = status.unpack_extra(extra_bytes)
        except status.StatusFormatError:
            pass
    return record, extra


def attempt(what: str, function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Call `function`; turn an OSError into a `SetupError` saying ``unable to WHAT: why``."""
    try:
        return function(*args, **kwargs)
    except fsio.NotFifo as error:
        raise SetupError(f"unable to {what}: {error.strerror}") from None
    except OSError as error:
        raise SetupError(f"unable to {what}: {describe(error)}") from None

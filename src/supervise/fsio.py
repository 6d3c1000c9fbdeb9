"""Blocking file-system helpers for ``supervise/``: directory, lock, FIFOs, atomic writes.

Each is a few system calls, fast enough to call from the trio thread. None of
them follows a symlink inside ``supervise/`` (O_NOFOLLOW), except
``supervise`` itself, which Debian's daemontools, runit and s6 all allow to be
a symlink (a dangling one has its target created).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator

SUPERVISE = "supervise"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW = os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


class LockHeld(Exception):
    """Another supervisor (ours, daemontools', runit's) holds ``supervise/lock``."""


class NotFifo(OSError):
    """A path that must be a FIFO is something else."""


def open_dir(path: str, dir_fd: int | None = None) -> int:
    """An fd for a directory (follows a symlink to it, as every scanner does)."""
    return os.open(path, _DIR_FLAGS, dir_fd=dir_fd)


def open_supervise_dir(service_fd: int) -> int:
    """Create ``supervise/`` 0700 if missing and return an fd for it.

    A dangling ``supervise`` symlink gets its target created (Debian patch
    0002 for daemontools; runit and s6 do the same).
    """
    try:
        os.mkdir(SUPERVISE, 0o700, dir_fd=service_fd)
    except FileExistsError:
        pass
    try:
        return open_dir(SUPERVISE, service_fd)
    except FileNotFoundError:
        target = os.readlink(SUPERVISE, dir_fd=service_fd)
        os.mkdir(target, 0o700, dir_fd=service_fd)
        return open_dir(SUPERVISE, service_fd)


def take_lock(supervise_fd: int) -> int:
    """Open ``lock`` and flock it exclusively without blocking, as daemontools and runsv do."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW
    fd = os.open("lock", flags, 0o600, dir_fd=supervise_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LockHeld() from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_fifo(supervise_fd: int, name: str) -> None:
    """Create FIFO `name` (0600) if missing, without opening it; `NotFifo` if it is not one.

    How ``ok`` is made ready before the first status is written, while no
    client may see it open yet.
    """
    try:
        os.mkfifo(name, 0o600, dir_fd=supervise_fd)
        return
    except FileExistsError:
        pass
    info = os.stat(name, dir_fd=supervise_fd, follow_symlinks=False)
    if stat.S_ISLNK(info.st_mode):
        raise NotFifo(errno.ELOOP, "a symbolic link, not a FIFO")
    if not stat.S_ISFIFO(info.st_mode):
        raise NotFifo(errno.EINVAL, "not a FIFO")


def fifo_mode(mode: int) -> int:
    """The mode a FIFO is kept at: ours read-write, a group's as its owner set it, no one else's.

    Created 0600. An administrator may let a group control the service
    (``chmod 620``, as s6-svperms does): that is kept. Permissions for others,
    and set-id or sticky bits, are removed whoever set them.
    """
    return (mode & 0o060) | 0o600


def open_fifo(
    supervise_fd: int, name: str, *, read_write: bool = False, create: bool = True
) -> int:
    """Create FIFO `name` (0600) if missing and open it non-blocking: read-only or read-write.

    A read-only open never waits for a writer. Read-write (Linux allows it on
    a FIFO) makes us a writer too, so reads never see EOF: one descriptor
    does what daemontools' two opens of ``control`` do. Raises `NotFifo` if
    `name` is not a FIFO (a regular file, a symlink). `create=False`: made by
    `make_fifo` already.
    """
    if create:
        try:
            os.mkfifo(name, 0o600, dir_fd=supervise_fd)
        except FileExistsError:
            pass
    mode = os.O_RDWR if read_write else os.O_RDONLY
    try:
        fd = os.open(name, mode | _NOFOLLOW, dir_fd=supervise_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise NotFifo(errno.ELOOP, "a symbolic link, not a FIFO") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISFIFO(info.st_mode):
            raise NotFifo(errno.EINVAL, "not a FIFO")
        mode = stat.S_IMODE(info.st_mode)
        if fifo_mode(mode) != mode:
            os.fchmod(fd, fifo_mode(mode))
        return fd
    except BaseException:
        os.close(fd)
        raise


def write_fifo(dir_fd: int, path: str, data: bytes) -> None:
    """Write `data` in one ``write`` to the FIFO `path` (the last component never a symlink),
    as a client does: without waiting for a reader (ENXIO) or for room (EAGAIN).

    `NotFifo` if it is something else, checked before and after the open, so
    nothing is written to (or opened as) a file or a device.
    """
    info = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISFIFO(info.st_mode):
        raise NotFifo(errno.EINVAL, "not a FIFO")
    fd = os.open(path, os.O_WRONLY | _NOFOLLOW, dir_fd=dir_fd)
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise NotFifo(errno.EINVAL, "not a FIFO")
        os.write(fd, data)
    finally:
        os.close(fd)


def read_small(dir_fd: int, name: str, most: int = 64) -> bytes | None:
    """The first `most` bytes of `name` (never through a symlink); None if it does not exist."""
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    try:
        return os.read(fd, most)
    finally:
        os.close(fd)


class Replaced(OSError):
    """The directory at a path is no longer the one we took (removed and recreated)."""


def identity(fd: int) -> tuple[int, int]:
    """(device, inode) of an open file: what a directory is, whatever its name now."""
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


@contextlib.contextmanager
def directory(path: str, expected: tuple[int, int] | None = None) -> Iterator[int]:
    """An fd for directory `path` (see `open_expected`), closed on leaving the block.

    The daemon keeps no directory open between steps (three descriptors per
    service is the budget); it opens one for the few calls of a step.
    """
    fd = open_expected(path, expected)
    try:
        yield fd
    finally:
        os.close(fd)


def open_expected(path: str, expected: tuple[int, int] | None = None) -> int:
    """An fd for directory `path`; with `expected`, raises `Replaced` if it is another one.

    So a supervisor whose directory was recreated in place never touches the new one.
    """
    fd = open_dir(path)
    if expected is not None and identity(fd) != expected:
        os.close(fd)
        raise Replaced(errno.ESTALE, f"{path} was replaced by another directory")
    return fd


def replace_file(dir_fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Replace `name` atomically: write ``name.new``, then rename it over `name`.

    ``name.new`` is created with O_EXCL|O_NOFOLLOW; one already there (left by a
    crash, or a planted symlink to another file) is removed and the create
    retried, so nothing outside ``supervise/`` is ever written.
    """
    temp = name + ".new"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temp, flags, mode, dir_fd=dir_fd)
    except FileExistsError:  # left by a crash, or planted: never written through
        os.unlink(temp, dir_fd=dir_fd)
        fd = os.open(temp, flags, mode, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def close_inherited_fds() -> None:
    """Mark every fd above 2 close-on-exec, so services inherit only 0, 1 and 2."""
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the fd listdir itself used, already closed


def close_quietly(*fds: int | None) -> None:
    """Close each fd that is not None, ignoring errors (used on teardown paths)."""
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

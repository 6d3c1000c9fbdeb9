"""Error texts the way daemontools and runit print them (djb's ``error_str``).

Pure, no trio: the clients use it too. ``svstat`` prints ``unable to chdir:
file does not exist`` where Python would say "No such file or directory"; a
user comparing our output with daemontools' must see the same words.
"""

from __future__ import annotations

import errno
import os

_DJB: dict[int, str] = {
    errno.EINTR: "interrupted system call",
    errno.ENOMEM: "out of memory",
    errno.ENOENT: "file does not exist",
    errno.ETXTBSY: "text busy",
    errno.EIO: "input/output error",
    errno.EEXIST: "file already exists",
    errno.ETIMEDOUT: "timed out",
    errno.EINPROGRESS: "operation in progress",
    errno.EAGAIN: "temporary failure",
    errno.EPIPE: "broken pipe",
    errno.EPERM: "permission denied",
    errno.EACCES: "access denied",
    errno.ENXIO: "device not configured",
    errno.EPROTO: "protocol error",
    errno.EISDIR: "is a directory",
    errno.ECONNREFUSED: "connection refused",
    errno.ESRCH: "no such process",
    errno.E2BIG: "argument list too long",
    errno.ENOEXEC: "exec format error",
    errno.EBADF: "file descriptor not open",
    errno.ECHILD: "no child processes",
    errno.EDEADLK: "operation would cause deadlock",
    errno.EFAULT: "bad address",
    errno.EBUSY: "device busy",
    errno.EXDEV: "cross-device link",
    errno.ENODEV: "device does not support operation",
    errno.ENOTDIR: "not a directory",
    errno.EINVAL: "invalid argument",
    errno.ENFILE: "system cannot open more files",
    errno.EMFILE: "process cannot open more files",
    errno.ENOTTY: "not a tty",
    errno.EFBIG: "file too big",
    errno.ENOSPC: "out of disk space",
    errno.ESPIPE: "unseekable descriptor",
    errno.EROFS: "read-only file system",
    errno.EMLINK: "too many links",
    errno.ELOOP: "symbolic link loop",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOTEMPTY: "directory not empty",
    errno.EDQUOT: "disk quota exceeded",
}


def describe(error: OSError | int) -> str:
    """djb's text for an errno (or an OSError), else the C library's, lowercased."""
    number = error if isinstance(error, int) else (error.errno or 0)
    return _DJB.get(number) or os.strerror(number).lower()

"""Write control letters to one directory's supervisor, as daemontools' svc does.

The library part of ``svc``, used by ``qm-stop`` and ``qm-start`` too: its
warnings carry the name of the program that called it (`cmdline.out`), so
qm-stop's say ``qm-stop: warning: ...``.
"""

from __future__ import annotations

import errno
import os

from cmdline.out import unable, warn
from supervise.errtext import describe


def send(directory: str, data: bytes) -> bool:
    """svc.c for one directory (cwd already saved): True if the bytes were written.

    The caller returns to its start directory afterwards (`cmdline.cwd.Origin`).
    """
    try:
        os.chdir(directory)
    except OSError as error:
        warn(unable(f"chdir to {directory}", error))
        return False
    try:
        fd = os.open("supervise/control", os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        why = "supervise not running" if error.errno == errno.ENXIO else describe(error)
        warn(f"unable to control {directory}: {why}")
        return False
    try:
        os.set_blocking(fd, True)
        if data:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.EAGAIN, "short write")
        return True
    except OSError as error:
        warn(f"error writing commands to {directory}: {describe(error)}")
        return False
    finally:
        os.close(fd)

"""svok: is a supervisor running for this directory? (daemontools' svok, exactly.)

Exit 0 when a supervisor holds ``supervise/ok`` open (it is listening), 100 when
not (no reader, or no ``supervise/ok``) and for a missing argument, 111 for
any other error (``svok: fatal: unable to chdir to DIR: ...``).
"""

from __future__ import annotations

import errno
import os
import sys

from cmdline import exits, out
from cmdline.cwd import Origin
from cmdline.out import Fatal, Usage, unable

PROG = "svok"
NOT_RUNNING = exits.PERMANENT  # daemontools' svok: 100 when no supervisor listens


def check(directory: str) -> int:
    """svok's exit code for `directory` (svok.c: chdir, then open supervise/ok)."""
    try:
        os.chdir(directory)
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable(f"chdir to {directory}", error)) from None
    try:
        fd = os.open("supervise/ok", os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENXIO):
            return NOT_RUNNING
        raise Fatal(exits.TEMPORARY, unable(f"open {directory}/supervise/ok", error)) from None
    os.close(fd)
    return exits.OK


def command(args: list[str]) -> int:
    if not args:
        raise Usage("svok: usage: svok dir")
    origin = Origin()
    try:
        return check(args[0])
    finally:
        origin.back()


def main(argv: list[str] | None = None) -> int:
    return out.run(PROG, command, argv)


if __name__ == "__main__":
    sys.exit(main())

"""svok: is a supervisor running for this directory? (daemontools' svok, exactly.)

Exit 0 when a supervisor holds ``supervise/ok`` open (it is listening), 100 when
not (no reader, or no ``supervise/ok``) and for a missing argument, 111 for
any other error (``svok: fatal: unable to chdir to DIR: ...``).
"""

from __future__ import annotations

import errno
import os
import sys

from supervise.errtext import describe
from svc.cwd import Origin
from svc.out import Fatal, Usage, finish

PROG = "svok"


def check(directory: str) -> int:
    """svok's exit code for `directory` (svok.c: chdir, then open supervise/ok)."""
    try:
        os.chdir(directory)
    except OSError as error:
        raise Fatal(111, f"unable to chdir to {directory}: {describe(error)}") from None
    try:
        fd = os.open("supervise/ok", os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENXIO):
            return 100
        raise Fatal(111, f"unable to open {directory}/supervise/ok: {describe(error)}") from None
    os.close(fd)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if not args:
            raise Usage("svok: usage: svok dir")
        origin = Origin()
        try:
            return check(args[0])
        finally:
            origin.back()
    except Fatal as error:
        return finish(PROG, error)


if __name__ == "__main__":
    sys.exit(main())

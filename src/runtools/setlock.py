"""setlock [-nNxX] FILE child...: run child holding an exclusive lock on FILE.

daemontools' setlock: FILE is opened for appending (created 0600), locked with
flock, and the open descriptor is left to child, so the lock lasts as long as
child runs. ``-n``: fail at once if the lock is taken (``-N``: wait, the
default); ``-x``: exit 0 quietly when the file cannot be opened or locked
(``-X``: say so and exit 111, the default).
"""

from __future__ import annotations

import fcntl
import os
import sys

from cmdline import exits
from cmdline.getopt import getopt
from cmdline.out import Fatal, Usage, unable
from runtools import pathexec

PROG = "setlock"
USAGE = "setlock: usage: setlock [ -nNxX ] file program [ arg ... ]"


def lock(path: str, wait: bool) -> int:
    """The locked descriptor, inheritable by the child; Fatal naming the step that failed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable(f"open {path}", error)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable(f"lock {path}", error)) from None
    os.set_inheritable(fd, True)
    return fd


def prepare(args: list[str]) -> tuple[list[str], None] | None:
    options, rest = getopt(args, "nNxX", "", USAGE)
    wait, quiet = True, False
    for letter, _ in options:
        if letter in "nN":
            wait = letter == "N"
        else:
            quiet = letter == "x"
    if len(rest) < 2:
        raise Usage(USAGE)
    try:
        lock(rest[0], wait)
    except Fatal:
        if quiet:
            return None
        raise
    return rest[1:], None


def main(argv: list[str] | None = None) -> int:
    return pathexec.main(PROG, prepare, argv)


if __name__ == "__main__":
    sys.exit(main())

"""svc: send control letters to the supervisors of service directories.

daemontools' ``svc`` exactly: option letters are collected in order with
duplicates dropped (at most 20), and the same bytes go to every directory in
one ``write``; a directory that cannot be controlled gets a warning and the
exit status stays 0; a bad option gets daemontools' two lines and exit 100.
Beyond daemontools: ``-q -1 -2`` (QUIT USR1 USR2, runit's and s6's letters) and
``-y`` (WINCH, s6's letter; ``-w`` is taken by waiting).

Waiting, in s6-svc's style: ``-wu`` up, ``-wU`` up and ready, ``-wd`` down,
``-wD`` down with finish done, ``-wr`` restarted, ``-wR`` restarted and ready;
``-T ms`` is the deadline (0 or none: no deadline). Exit codes with ``-w``:
0 every directory got there, 99 the deadline passed for some directory (each
is named with its state), 1 some directory cannot get there (no supervisor,
or failed permanently). Nothing is ever killed on a timeout.
"""

from __future__ import annotations

import errno
import os
import sys

from supervise.errtext import describe
from svc.cwd import Origin
from svc.out import Fatal, Usage, finish, warn
from svc.sgetopt import getopt

PROG = "svc"
LETTERS = "udopchaitkxq12y"
MAX_LETTERS = 20  # daemontools' buffer
WAITS = "uUdDrR"
DAEMONTOOLS_OPTIONS = (
    "svc options: u up, d down, o once, x exit, p pause, c continue,"
    " h hup, a alarm, i interrupt, t term, k kill"
)
MORE_OPTIONS = (
    "svc also: q quit, 1 usr1, 2 usr2, y winch;"
    " -wu|-wU|-wd|-wD|-wr|-wR wait for up|ready|down|finished|restarted|restarted and ready;"
    " -T ms deadline"
)


class Options:
    __slots__ = ("data", "deadline_ms", "directories", "wait")

    def __init__(self) -> None:
        self.data = b""
        self.wait = ""
        self.deadline_ms = 0
        self.directories: list[str] = []


USAGE = f"{DAEMONTOOLS_OPTIONS}\n{MORE_OPTIONS}"


def parse(argv: list[str]) -> Options:
    """getopt(3) as djb's sgetopt (`svc.sgetopt`), then daemontools' letter rules."""
    options = Options()
    letters = ""
    pairs, options.directories = getopt(PROG, argv, LETTERS, "wT", USAGE)
    for letter, value in pairs:
        if letter in "wT":
            _set(options, letter, value)
        elif letter not in letters and len(letters) < MAX_LETTERS:
            letters += letter
    options.data = letters.encode()
    return options


def _set(options: Options, letter: str, value: str) -> None:
    if letter == "w":
        if len(value) != 1 or value not in WAITS:
            raise Usage(f"svc: -w takes one of {' '.join(WAITS)}, not {value!r}\n{USAGE}")
        options.wait = value
    else:
        if not (value.isascii() and value.isdigit()):
            raise Usage(f"svc: -T takes milliseconds, not {value!r}\n{USAGE}")
        options.deadline_ms = int(value)


def send(directory: str, data: bytes) -> bool:
    """svc.c for one directory (cwd already saved): True if the bytes were written."""
    try:
        os.chdir(directory)
    except OSError as error:
        warn(PROG, f"unable to chdir to {directory}: {describe(error)}")
        return False
    try:
        fd = os.open("supervise/control", os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        why = "supervise not running" if error.errno == errno.ENXIO else describe(error)
        warn(PROG, f"unable to control {directory}: {why}")
        return False
    try:
        os.set_blocking(fd, True)
        if data:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.EAGAIN, "short write")
        return True
    except OSError as error:
        warn(PROG, f"error writing commands to {directory}: {describe(error)}")
        return False
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        options = parse(args)
        origin = Origin()
        before = {}
        if options.wait:
            from svc import wait

            before = wait.snapshot(options.directories, origin)
        reached: list[str] = []
        for directory in options.directories:
            if send(directory, options.data):
                reached.append(directory)
            origin.back()
        if not options.wait:
            return 0
        failed = len(reached) < len(options.directories)
        code = wait.wait(reached, options, before, origin)
        return code or (1 if failed else 0)
    except Fatal as error:
        return finish(PROG, error)


if __name__ == "__main__":
    sys.exit(main())

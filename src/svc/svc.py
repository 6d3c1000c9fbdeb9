"""svc: send control letters to the supervisors of service directories.

daemontools' ``svc`` exactly: option letters are collected in order with
duplicates dropped (at most 20), and the same bytes go to every directory in
one ``write``; a directory that cannot be controlled gets a warning and the
exit status stays 0; a bad option gets daemontools' two lines and exit 100.
Beyond daemontools: ``-q -1 -2`` (QUIT USR1 USR2, runit's and s6's letters) and
``-y`` (WINCH, s6's letter; ``-w`` is taken by waiting).

Waiting, in s6-svc's style: ``-wu`` up, ``-wU`` up and ready, ``-wd`` down,
``-wD`` down with finish done, ``-wE`` down with finish done and the service's
process tree empty (what ./run left behind is gone: ours, not s6's), ``-wr``
restarted, ``-wR`` restarted and ready;
``-T ms`` is the deadline (0 or none: no deadline). Exit codes with ``-w``:
0 every directory got there, 99 the deadline passed for some directory (each
is named with its state), 1 some directory cannot get there (no supervisor,
or failed permanently). Nothing is ever killed on a timeout.
"""

from __future__ import annotations

import sys
import time

from cmdline import exits, out
from cmdline.cwd import Origin
from cmdline.getopt import getopt
from cmdline.out import Usage
from supervise.alphabet import SVC_LETTERS
from svc.send import send

PROG = "svc"
LETTERS = SVC_LETTERS  # the control alphabet's letters, but encore's w (-w waits)
MAX_LETTERS = 20  # daemontools' buffer
WAITS = "uUdDErR"
DAEMONTOOLS_OPTIONS = (
    "svc options: u up, d down, o once, x exit, p pause, c continue,"
    " h hup, a alarm, i interrupt, t term, k kill"
)
MORE_OPTIONS = (
    "svc also: q quit, 1 usr1, 2 usr2, y winch;"
    " -wu|-wU|-wd|-wD|-wE|-wr|-wR wait for up|ready|down|finished|finished with its process"
    " tree empty|restarted|restarted and ready;"
    " -T ms deadline"
)
#: -w: some directory could not be controlled at all (its wait found nothing amiss)
UNCONTROLLED = 1


class Options:
    __slots__ = ("data", "deadline_ms", "directories", "wait")

    def __init__(self) -> None:
        self.data = b""
        self.wait = ""
        self.deadline_ms = 0
        self.directories: list[str] = []


USAGE = f"{DAEMONTOOLS_OPTIONS}\n{MORE_OPTIONS}"


def parse(argv: list[str]) -> Options:
    """getopt(3) as djb's sgetopt (`cmdline.getopt`), then daemontools' letter rules."""
    options = Options()
    letters = ""
    pairs, options.directories = getopt(argv, LETTERS, "wT", USAGE)
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


def command(args: list[str]) -> int:
    options = parse(args)
    origin = Origin()
    before = {}
    if options.wait:
        from svc import wait  # only a waiting svc pays for it

        before = wait.snapshot(options.directories, origin)
    reached: list[str] = []
    for directory in options.directories:
        if send(directory, options.data):
            reached.append(directory)
        origin.back()
    if not options.wait:
        return exits.OK  # daemontools: "unable to control" is a warning, not a failure
    failed = len(reached) < len(options.directories)
    deadline = time.monotonic() + options.deadline_ms / 1000 if options.deadline_ms else None
    code = wait.wait(reached, options.wait, deadline, options.data, before, origin)
    return code or (UNCONTROLLED if failed else exits.OK)


def main(argv: list[str] | None = None) -> int:
    return out.run(PROG, command, argv)


if __name__ == "__main__":
    sys.exit(main())

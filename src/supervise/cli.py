"""Command line of the ``supervise`` daemon: ``supervise dir [dir ...]``.

The same daemon as svscan (`supervise.svscan.Scanner`) over the directories
given, with no scan and no ``log/`` (daemontools' supervise runs no logger):
it answers SIGHUP (re-exec, nothing restarted), SIGUSR1 (state dump) and
SIGTERM/SIGINT (everything down) as svscan does.

Exit codes, as daemontools: 0 after every directory was released, 100 for a
usage error, 111 if a directory could not be supervised (its lock is held).
"""

from __future__ import annotations

import os
import sys

from cmdline import exits, out
from supervise import process

TYPE_CHECKING = False  # typing costs the daemon's first pass its import time
if TYPE_CHECKING:
    from typing import NoReturn

PROG = "supervise"
USAGE = "supervise dir [dir ...]"


def main(argv: list[str] | None = None) -> int:
    """Run the daemon on the directories named in `argv` (default: ``sys.argv[1:]``).

    Once the daemon ran, it returns with the daemon's signals held (`Scanner.run`): the
    console script exits at once, dropping any that came while it ended; a caller that
    carries on in process (a test) unblocks them itself."""
    out.begin(PROG)
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] == "--":
        args = args[1:]
    elif args and args[0].startswith("-"):
        args = []  # supervise has no options: any is a usage error
    if not args:
        out.say(f"{PROG}: usage: {USAGE}")
        return exits.USAGE
    from supervise import prestart, reexec

    payload = reexec.receive()
    carried = reexec.take_carried()
    try:
        here = os.getcwd()
    except OSError:
        here = "."
    try:
        reexec_argv = reexec.command_line(
            list(sys.orig_argv), sys.executable, [os.path.abspath(path) for path in args],
            given=len(sys.argv) - 1,
        )
    except ValueError as error:
        out.say(f"{PROG}: usage: {USAGE} ({error})")
        return exits.USAGE
    first = None if payload is not None else prestart.begin(args)
    from supervise import daemon  # only the daemon pays for trio, once the services run

    scanner = daemon.prepare(here, reexec_argv, payload, fixed=args, first=first,
                             carried=carried)
    del payload, first  # what the scanner did not keep is freed
    return daemon.serve(scanner)


def entry() -> NoReturn:
    """The console script: `main`, then exit at once (see `process.exit_now`)."""
    process.exit_now(main())


if __name__ == "__main__":
    entry()

"""Command line of ``svscan [-s] [DIR]``: supervise every service in DIR (default: here).

``-s`` makes the daemon a child subreaper, so orphans of the services are
reaped by it (as PID 1 it is one already). Exit codes: 0 after an orderly
shutdown, an ``essential`` service's own code when its end shut the tree
down, 100 for a usage error, 111 when DIR cannot be entered.
"""

from __future__ import annotations

import os
import sys

from cmdline import exits, out
from supervise import process, say

TYPE_CHECKING = False  # typing costs the daemon's first pass its import time
if TYPE_CHECKING:
    from typing import NoReturn

PROG = "svscan"
USAGE = "svscan [-s] [dir]"


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: ``sys.argv[1:]``) and run the daemon in the foreground; it
    returns with the daemon's signals held, as `supervise.cli.main` does."""
    out.begin(PROG)
    args = sys.argv[1:] if argv is None else argv
    options = []
    while args and args[0].startswith("-") and args[0] != "-":
        word = args.pop(0)
        if word == "--":
            break
        if word != "-s":
            return _usage(f"unknown option {word}")
        options.append(word)
    if len(args) > 1:
        return _usage("more than one directory")
    root = os.path.abspath(args[0] if args else ".")
    try:
        reexec_argv = _handover_command([*options, root])
    except ValueError as error:
        return _usage(str(error))
    return _run(root, "-s" in options, reexec_argv)


def _run(root: str, subreaper: bool, reexec_argv: list[str]) -> int:
    from supervise import prestart, reexec

    payload = reexec.receive()
    carried = reexec.take_carried()
    try:
        os.chdir(root)
    except OSError as error:
        say.fatal(out.unable(f"chdir to {root}", error))
        return exits.TEMPORARY
    if subreaper:
        try:
            process.become_subreaper()
        except OSError as error:
            say.warning(out.unable("become a subreaper", error))
    process.raise_descriptor_limit()
    first = None if payload is not None else prestart.begin()
    from supervise import daemon  # only the daemon pays for trio, once the services run

    scanner = daemon.prepare(root, reexec_argv, payload, first=first, carried=carried)
    del payload, first  # what the scanner did not keep is freed
    return daemon.serve(scanner)


def _handover_command(args: list[str]) -> list[str]:
    from supervise.reexec import command_line

    return command_line(list(sys.orig_argv), sys.executable, args, given=len(sys.argv) - 1)


def _usage(why: str) -> int:
    out.say(f"{PROG}: usage: {USAGE} ({why})")
    return exits.USAGE


def entry() -> NoReturn:
    """The console script: `main`, then exit at once (see `process.exit_now`)."""
    process.exit_now(main())


if __name__ == "__main__":
    entry()

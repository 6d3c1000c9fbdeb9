"""Command line of the ``supervise`` daemon: ``supervise dir [dir ...]``.

Exit codes, as daemontools: 0 after every directory was released, 100 for a
usage error, 111 if a directory could not be supervised (its lock is held).
"""

from __future__ import annotations

import sys
from typing import NoReturn

from supervise import process, say

USAGE = "supervise dir [dir ...]"
EXIT_USAGE = 100


def main(argv: list[str] | None = None) -> int:
    """Run the daemon on the directories named in `argv` (default: ``sys.argv[1:]``)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--":
        args = args[1:]
    elif args and args[0].startswith("-"):
        args = []  # supervise has no options: any is a usage error
    if not args:
        sys.stderr.write(f"{say.PROG}: usage: {USAGE}\n")
        return EXIT_USAGE
    import trio  # only the daemon pays for trio

    from supervise.daemon import supervise

    return trio.run(supervise, args)


def entry() -> NoReturn:
    """The console script: `main`, then exit at once (see `process.exit_now`)."""
    process.exit_now(main())


if __name__ == "__main__":
    entry()

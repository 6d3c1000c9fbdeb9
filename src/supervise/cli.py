"""Command line of the ``supervise`` daemon: ``supervise dir [dir ...]``.

Exit codes, as daemontools: 0 after every directory was released, 100 for a
usage error, 111 if a directory could not be supervised (its lock is held).
"""

from __future__ import annotations

import sys

from cmdline import exits, out

PROG = "supervise"
USAGE = "supervise dir [dir ...]"


def main(argv: list[str] | None = None) -> int:
    """Run the daemon on the directories named in `argv` (default: ``sys.argv[1:]``)."""
    out.begin(PROG)
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--":
        args = args[1:]
    elif args and args[0].startswith("-"):
        args = []  # supervise has no options: any is a usage error
    if not args:
        out.say(f"{PROG}: usage: {USAGE}")
        return exits.USAGE
    import trio  # only the daemon pays for trio

    from supervise import process
    from supervise.daemon import supervise

    process.exit_now(trio.run(supervise, args))


if __name__ == "__main__":
    sys.exit(main())

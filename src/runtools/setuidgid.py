"""setuidgid [-s] ACCOUNT child...: run child as ACCOUNT's uid and gid.

daemontools' setuidgid leaves the process with one group, the account's primary
one; ``-s`` (as daemontools-encore) gives it the account's supplementary groups
too. Every step is checked: a failure to drop privileges is fatal (exit 111),
never a silent run as root.
"""

from __future__ import annotations

import os
import pwd
import sys

from cmdline import exits
from cmdline.getopt import getopt
from cmdline.out import Fatal, Usage, unable
from runtools import account, pathexec

PROG = "setuidgid"
USAGE = "setuidgid: usage: setuidgid account child"  # daemontools' words; -s is ours


def drop(entry: pwd.struct_passwd, supplementary: bool) -> None:
    """setgroups, setgid, setuid (in that order: each needs the privilege the next drops)."""
    gids = account.groups(entry) if supplementary else [entry.pw_gid]
    try:
        os.setgroups(gids)
        os.setgid(entry.pw_gid)
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable("setgid", error)) from None
    try:
        os.setuid(entry.pw_uid)
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable("setuid", error)) from None
    if os.getuid() != entry.pw_uid or os.geteuid() != entry.pw_uid or os.getegid() != entry.pw_gid:
        raise Fatal(exits.TEMPORARY, "unable to setuid: ids did not change")


def prepare(args: list[str]) -> tuple[list[str], None]:
    options, rest = getopt(args, "s", "", USAGE)
    if len(rest) < 2:
        raise Usage(USAGE)
    drop(account.lookup(rest[0]), ("s", "") in options)
    return rest[1:], None


def main(argv: list[str] | None = None) -> int:
    return pathexec.main(PROG, prepare, argv)


if __name__ == "__main__":
    sys.exit(main())

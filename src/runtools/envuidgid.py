"""envuidgid [-s] ACCOUNT child...: run child with $UID and $GID set to ACCOUNT's ids.

daemontools' envuidgid; ``-s`` also sets ``$GIDLIST`` to the account's groups,
comma-separated (as s6-envuidgid and daemontools-encore do), for a later
``setuidgid -s``-like step such as ``s6-applyuidgid``.
"""

from __future__ import annotations

import os
import sys

from cmdline.getopt import getopt
from cmdline.out import Usage
from runtools import account, pathexec

PROG = "envuidgid"
USAGE = "envuidgid: usage: envuidgid account child"  # daemontools' words; -s is ours


def prepare(args: list[str]) -> tuple[list[str], dict[str, str]]:
    options, rest = getopt(args, "s", "", USAGE)
    if len(rest) < 2:
        raise Usage(USAGE)
    entry = account.lookup(rest[0])
    env = dict(os.environ, UID=str(entry.pw_uid), GID=str(entry.pw_gid))
    if ("s", "") in options:
        env["GIDLIST"] = ",".join(str(gid) for gid in account.groups(entry))
    return rest[1:], env


def main(argv: list[str] | None = None) -> int:
    return pathexec.main(PROG, prepare, argv)


if __name__ == "__main__":
    sys.exit(main())

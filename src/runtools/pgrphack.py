"""pgrphack child...: run child in a new session (and so its own process group)."""

from __future__ import annotations

import os
import sys

from cmdline.out import Usage
from runtools import pathexec

PROG = "pgrphack"


def prepare(args: list[str]) -> tuple[list[str], None]:
    if not args:
        raise Usage("pgrphack: usage: pgrphack child")
    try:
        os.setsid()
    except OSError:
        pass  # already a session leader: daemontools ignores this too
    return args, None


def main(argv: list[str] | None = None) -> int:
    return pathexec.main(PROG, prepare, argv)


if __name__ == "__main__":
    sys.exit(main())

"""pgrphack child...: run child in a new session (and so its own process group)."""

from __future__ import annotations

import os
import sys

from runtools import pathexec
from svc.out import Fatal, Usage, finish

PROG = "pgrphack"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if not args:
            raise Usage("pgrphack: usage: pgrphack child")
        try:
            os.setsid()
        except OSError:
            pass  # already a session leader: daemontools ignores this too
        pathexec.run(PROG, args)
    except Fatal as error:
        return finish(PROG, error)
    return 111  # not reached: pathexec.run returns only by raising


if __name__ == "__main__":
    sys.exit(main())

"""The project's version, for ``--version`` and for the package metadata (one place).

pyproject.toml reads `VERSION` from here (setuptools' ``attr:``, without importing
anything), so the installed metadata and what ``qm-stop --version`` prints agree.
Import-free, like the rest of the command-line layer.
"""

from __future__ import annotations

import sys

PROJECT = "trio-supervise"
VERSION = "0.1.0"


def asked(argv: list[str]) -> bool:
    """Whether the command line is ``--version`` alone (our own commands only: the
    drop-ins for daemontools' programs keep daemontools' answer to it)."""
    return argv == ["--version"]


def show(prog: str) -> int:
    """``PROG (trio-supervise) VERSION`` on stdout; the exit code (0)."""
    sys.stdout.write(f"{prog} ({PROJECT}) {VERSION}\n")
    sys.stdout.flush()
    return 0

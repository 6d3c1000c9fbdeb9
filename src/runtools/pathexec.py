"""Exec the rest of the command line the way djb's ``pathexec`` does, or die saying why.

A name with a ``/`` is run as it is; otherwise each directory of ``$PATH`` (of
the environment we were started with, ``/bin:/usr/bin`` if unset; an empty
entry means ``.``) is tried in order. A "not found" moves on; "access denied",
"permission denied" and "is a directory" are remembered and the search goes on;
any other error stops it. The error reported is the remembered one, if any.

The Python interpreter ignores SIGPIPE and SIGXFSZ, and an ignored signal stays
ignored across exec: both are set back to their default first, as a C tool
started by a supervisor would have them. (`_signal`, not `signal`: the latter
imports enum, which costs more than this whole program should.)
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]
import errno
import os

from cmdline import exits, out
from cmdline.out import Fatal, unable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    #: what a tool's `prepare` gives: the child's argv and environment (None: ours),
    #: or None to exit 0 without running anything (setlock -x)
    Plan = tuple[list[str], dict[str, str] | None] | None

_GO_ON = (errno.EACCES, errno.EPERM, errno.EISDIR)


def main(prog: str, prepare: Callable[[list[str]], Plan], argv: list[str] | None) -> int:
    """Every tool's main: `prepare` makes the tool's one change to this process and says
    what to exec; a `Fatal` from either step becomes ``PROG: fatal: ...`` and its exit code."""

    def command(args: list[str]) -> int:
        plan = prepare(args)
        if plan is None:
            return exits.OK
        run(*plan)
        return exits.TEMPORARY  # not reached: run() returns only by raising

    return out.run(prog, command, argv)


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    """Replace this process with `argv`; on failure raise ``PROG: fatal: unable to run X: why``."""
    for signum in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(signum, _signal.SIG_DFL)
    error = _exec(argv, os.environ if env is None else env)
    raise Fatal(exits.TEMPORARY, unable(f"run {argv[0]}", error))


def _exec(argv: list[str], env: os._Environ[str] | dict[str, str]) -> int:
    """Try every candidate; return the errno to report (only returns on failure)."""
    name = argv[0]
    if "/" in name:
        return _try(name, argv, env)
    saved = 0
    for directory in os.environ.get("PATH", "/bin:/usr/bin").split(":"):
        error = _try(f"{directory or '.'}/{name}", argv, env)
        if error != errno.ENOENT:
            saved = error
            if error not in _GO_ON:
                return error
    return saved or errno.ENOENT


def _try(path: str, argv: list[str], env: os._Environ[str] | dict[str, str]) -> int:
    try:
        os.execve(path, argv, env)
    except OSError as error:
        return error.errno or errno.ENOENT
    raise AssertionError("execve returned")  # pragma: no cover - execve never returns

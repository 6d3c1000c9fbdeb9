"""envdir DIR child...: set the environment from a directory of files, then run child.

daemontools' rules: one file per variable (names starting with ``.`` are
skipped), its first line only, trailing spaces and tabs removed, NUL bytes
turned into newlines; an empty file removes the variable; a file that vanished
meanwhile counts as empty. Every failure is exit 111, the usage error too.
Like daemontools' envdir it changes into DIR to read it and back before the exec.
"""

from __future__ import annotations

import os
import sys

from cmdline import exits
from cmdline.out import Fatal, Usage, unable
from runtools import pathexec

TYPE_CHECKING = False
if TYPE_CHECKING:  # not at run time: typing costs more start-up time than the whole tool
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

PROG = "envdir"


def read_dir(directory: str) -> dict[str, str | None]:
    """name -> value (None: remove it) for every file in `directory`, as envdir reads them."""
    origin = _attempt("switch to current directory", os.open, ".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _attempt(f"switch to directory {directory}", os.chdir, directory)
        names = _attempt(f"read directory {directory}", os.listdir, ".")
        changes = {name: value_of(_read(directory, name)) for name in names if name[0] != "."}
        _attempt("switch to starting directory", os.fchdir, origin)
    finally:
        os.close(origin)
    return changes


def value_of(data: bytes) -> str | None:
    """The variable's value for a file's bytes; None when the file is empty."""
    if not data:
        return None
    line = data.split(b"\n", 1)[0].rstrip(b" \t").replace(b"\0", b"\n")
    return os.fsdecode(line)


def _read(directory: str, name: str) -> bytes:
    try:
        with open(name, "rb") as file:
            return file.read()
    except FileNotFoundError:
        return b""
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable(f"read {directory}/{name}", error)) from None


def _attempt(what: str, function: Callable[..., T], *args: object) -> T:
    try:
        return function(*args)
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable(what, error)) from None


def prepare(args: list[str]) -> tuple[list[str], dict[str, str]]:
    if len(args) < 2:
        raise Usage("envdir: usage: envdir dir child", exits.TEMPORARY)  # daemontools' code
    env = dict(os.environ)
    for name, value in read_dir(args[0]).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return args[1:], env


def main(argv: list[str] | None = None) -> int:
    return pathexec.main(PROG, prepare, argv)


if __name__ == "__main__":
    sys.exit(main())

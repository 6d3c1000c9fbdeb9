"""softlimit [-a -c -d -f -l -m -o -p -r -s -t N] child...: lower soft resource limits.

daemontools' softlimit: each option sets the soft limit of its resource to N
(bytes, files, processes or seconds), or to the hard limit when N is ``=``; a
value above the hard limit is lowered to it. ``-m`` sets data, stack, locked
memory and address space at once. A value that is not a number is a usage error.
"""

from __future__ import annotations

import resource
import sys

from cmdline import exits
from cmdline.getopt import getopt
from cmdline.out import Fatal, Usage
from runtools import pathexec
from supervise.errtext import describe

PROG = "softlimit"
USAGE = (
    "softlimit: usage: softlimit [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes]"
    " [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes]"
    " [-s stackbytes] [-t cpusecs] child"
)

#: option -> the resources it sets, in daemontools' order
RESOURCES: dict[str, tuple[int, ...]] = {
    "a": (resource.RLIMIT_AS,),
    "c": (resource.RLIMIT_CORE,),
    "d": (resource.RLIMIT_DATA,),
    "f": (resource.RLIMIT_FSIZE,),
    "l": (resource.RLIMIT_MEMLOCK,),
    "m": (resource.RLIMIT_DATA, resource.RLIMIT_STACK, resource.RLIMIT_MEMLOCK,
          resource.RLIMIT_AS),
    "o": (resource.RLIMIT_NOFILE,),
    "p": (resource.RLIMIT_NPROC,),
    "r": (resource.RLIMIT_RSS,),
    "s": (resource.RLIMIT_STACK,),
    "t": (resource.RLIMIT_CPU,),
}


_UNLIMITED = 2**64 - 1  # RLIM_INFINITY as the C library's unsigned rlim_t


def soft_limit(value: str, hard: int) -> int:
    """The new soft limit for `value` (digits, or ``=`` for the hard limit), at most `hard`.

    Compared as daemontools compares them, unsigned: an unlimited hard limit
    (``RLIM_INFINITY``, -1 in Python) is above every number. A number past 64 bits
    is the hard limit here, where daemontools' parser wraps it around.
    """
    if value == "=":
        return hard
    if value and not (value.isascii() and value.isdigit()):
        raise Usage(USAGE)
    ceiling = _UNLIMITED if hard == resource.RLIM_INFINITY else hard
    wanted = min(int(value or "0"), ceiling)  # daemontools reads "" as 0
    return resource.RLIM_INFINITY if wanted == _UNLIMITED else wanted


def apply(letter: str, value: str) -> None:
    for which in RESOURCES[letter]:
        try:
            _, hard = resource.getrlimit(which)
        except OSError as error:
            raise Fatal(exits.TEMPORARY, f"getrlimit failed: {describe(error)}") from None
        try:
            resource.setrlimit(which, (soft_limit(value, hard), hard))
        except (OSError, ValueError) as error:
            why = describe(error) if isinstance(error, OSError) else "invalid argument"
            raise Fatal(exits.TEMPORARY, f"setrlimit failed: {why}") from None


def prepare(args: list[str]) -> tuple[list[str], None]:
    options, rest = getopt(args, "", "acdflmoprst", USAGE)
    for letter, value in options:
        apply(letter, value)
    if not rest:
        raise Usage(USAGE)
    return rest, None


def main(argv: list[str] | None = None) -> int:
    return pathexec.main(PROG, prepare, argv)


if __name__ == "__main__":
    sys.exit(main())

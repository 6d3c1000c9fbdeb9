"""Options the way djb's ``sgetopt`` reads them, for every client and run-script tool.

Clusters (``-udx``), an option's value joined (``-T500``) or in the next
argument (``-T 500``), ``--`` ends the options (so does any argument that starts
with ``--``, which sgetopt takes as ``--``: ``svc --version`` is ``svc`` with no
directory), and so do ``-`` and the first argument that is not an option (so
``svc dir -u`` treats ``-u`` as a directory).
An unknown letter or a missing value is a `Usage` error whose first line is
sgetopt's own (``svc: illegal option -- Z``, under the program's name); the
caller gives its usage line.
"""

from __future__ import annotations

from cmdline.out import Usage, program


def getopt(
    argv: list[str], flags: str, valued: str, usage: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """(options in order as (letter, value or ""), the arguments after them)."""
    options: list[tuple[str, str]] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg.startswith("--"):  # sgetopt: "--" and "--anything" both end the options
            index += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        index += 1
        position = 1
        while position < len(arg):
            letter = arg[position]
            position += 1
            if letter in valued:
                value = arg[position:]
                if not value:
                    if index >= len(argv):
                        raise Usage(f"{program()}: option requires an argument -- {letter}\n"
                                    f"{usage}")
                    value = argv[index]
                    index += 1
                options.append((letter, value))
                break
            if letter not in flags:
                raise Usage(f"{program()}: illegal option -- {letter}\n{usage}")
            options.append((letter, ""))
    return options, argv[index:]

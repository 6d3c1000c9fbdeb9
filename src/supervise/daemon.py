"""How both daemons start: ``supervise DIR...`` and ``svscan`` run the one `Scanner`.

The command lines (`supervise.cli`, `supervise.svscan_cli`) parse their
arguments and set the process up; this takes the state a previous image
handed over on SIGHUP, if any, and runs the daemon until it exits. Every
daemon behaviour (signals, handover, state dump, shutdown) lives once, in
`supervise.svscan`.
"""

from __future__ import annotations

from typing import Any

import trio

from supervise import fsio, handover, say
from supervise.svscan import Scanner


def serve(
    root: str, reexec_argv: list[str], payload: bytes | None, fixed: list[str] | None = None,
    first: dict[str, Any] | None = None,
) -> int:
    """Run the daemon (over `fixed` directories, or scanning `root`); its exit code.

    `payload` is what `reexec.receive` found: the entries to carry on with.
    `first` is what the first pass (`supervise.prestart`) started, when there
    was no payload.
    """
    handed = None
    if payload is not None:
        try:
            handed = handover.decode(payload)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            say.warning(f"unable to read the state handed over on SIGHUP: {error}")
    elif first is not None:
        handed = handover.decode_plain(first)
    fsio.close_inherited_fds()
    scanner = Scanner(root, reexec_argv, fixed=fixed)
    return trio.run(scanner.run, handed)

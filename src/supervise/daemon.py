"""How both daemons start: ``supervise DIR...`` and ``svscan`` run the one `Scanner`.

The command lines (`supervise.cli`, `supervise.svscan_cli`) parse their
arguments and set the process up; this takes the state a previous image
handed over on SIGHUP, if any, and runs the daemon until it exits. Every
daemon behaviour (signals, handover, state dump, shutdown) lives once, in
`supervise.svscan`. A fault that ends the whole task tree is `supervise.keeper`'s.
"""

from __future__ import annotations

from typing import Any

import trio

from supervise import fsio, guard, handover, healing, inject, keeper, reexec, say
from supervise.healer import Healer
from supervise.svscan import Scanner


def prepare(
    root: str, reexec_argv: list[str], payload: bytes | None, fixed: list[str] | None = None,
    first: dict[str, Any] | None = None, carried: dict[str, str] | None = None,
) -> Scanner:
    """The daemon (over `fixed` directories, or scanning `root`), ready for `serve`.

    `payload` is what `reexec.receive` found: the entries to carry on with.
    `first` is what the first pass (`supervise.prestart`) started, when there
    was no payload. `carried` holds what `reexec.take_carried` took: the
    fault history and the test hook's file. The caller drops `payload` and
    `first` before `serve`: the scanner keeps what it needs of them, and the
    rest (about 1 MiB at 1000 services) is freed for the daemon's own use.
    """
    handed = None
    if payload is not None:
        try:
            handed = handover.decode(payload)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            say.warning(f"unable to read the state handed over on SIGHUP: {error}")
    elif first is not None:
        handed = handover.decode_plain(first)
    carried = carried or {}
    inject.arm(carried.get(inject.ENV))
    history = healing.decode(carried.get(reexec.FAULTS_ENV))
    fsio.close_inherited_fds()
    return Scanner(root, reexec_argv, fixed=fixed, healer=Healer(history), handed=handed)


def serve(scanner: Scanner) -> int:
    """Run the daemon until it exits; its exit code. A fault that ends the whole task tree
    leaves the services to `supervise.keeper`."""
    try:
        return trio.run(scanner.run)
    except BaseException as error:
        if guard.orderly(error):
            raise
        return keeper.keep(guard.describe(error), scanner.reexec_argv, scanner.healer.history)

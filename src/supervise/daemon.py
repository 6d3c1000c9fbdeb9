"""The supervise daemon: one trio process for every directory it is given.

One nursery holds the reaper, the signal watcher and one `Service` task per
directory. The daemon exits when every directory has been released: after
``x`` for each of them, after SIGTERM/SIGINT brought them all down, or at
once if none could be taken (their lock was held by another supervisor).
"""

from __future__ import annotations

import signal

import trio

from supervise import fsio
from supervise.readers import Readers
from supervise.reaper import Reaper
from supervise.service import Service

#: Exit code when some directory could not be supervised (daemontools' "temporary failure").
EXIT_REFUSED = 111


async def supervise(paths: list[str]) -> int:
    """Supervise `paths` until each is released; 0, or 111 if any was refused."""
    fsio.close_inherited_fds()
    reaper, readers = Reaper(), Readers()
    services = [Service(path, reaper, readers) for path in paths]
    async with trio.open_nursery() as nursery:
        await nursery.start(reaper.run)
        await nursery.start(readers.run)
        await nursery.start(_stop_on_signals, services)
        async with trio.open_nursery() as each:
            for service in services:
                each.start_soon(service.run)
        nursery.cancel_scope.cancel()
    return EXIT_REFUSED if any(service.refused for service in services) else 0


async def _stop_on_signals(
    services: list[Service], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """First SIGTERM/SIGINT: every service down, in parallel. A later one: SIGKILL the rest."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        force = False
        async for _ in signals:
            for service in services:
                service.shutdown(force)
            force = True

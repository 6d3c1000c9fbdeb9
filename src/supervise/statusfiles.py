"""Writing ``supervise/``'s status files: only those whose bytes changed, each atomically.

The contents come from the machine (`machine.status_files`); this module
remembers what it last wrote, so a step that changed only ``stat`` replaces
only ``stat``, and replaces each file with a rename (`fsio.replace_file`). A
file that cannot be written (runit's ``pid`` made a directory) does not keep
the others, ``status`` above all, from being written.
"""

from __future__ import annotations

import os

import attrs

from supervise import fsio, inject
from supervise.errtext import describe
from supervise.servicedir import ServiceDir


class WriteFailed(Exception):
    """Status file `name` could not be written (`error` says why); the others were tried."""

    def __init__(self, name: str, error: OSError) -> None:
        super().__init__(name, error)
        self.name = name
        self.error = error


@attrs.define(eq=False)
class StatusFiles:
    """What we last wrote in one ``supervise/``, by file name."""

    _written: dict[str, bytes] = attrs.field(factory=dict)

    @property
    def has_extra(self) -> bool:
        """Whether we wrote an ``xstatus`` (it must then be kept up to date)."""
        return "xstatus" in self._written

    def forget(self) -> None:
        """A directory taken afresh: write everything again."""
        self._written.clear()

    def changed(self, files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """The files of `files` whose bytes differ from what we last wrote."""
        return [(name, data) for name, data in files if self._written.get(name) != data]

    def write(self, supervise_fd: int, files: list[tuple[str, bytes]]) -> None:
        """Replace each file, in order; `WriteFailed` names the first that could not be."""
        failed: WriteFailed | None = None
        for name, data in files:
            try:
                fsio.replace_file(supervise_fd, name, data)
            except OSError as error:
                failed = failed or WriteFailed(name, error)
                continue
            self._written[name] = data
        if failed is not None:
            raise failed

    def update(
        self, where: ServiceDir, files: list[tuple[str, bytes]], supervise_fd: int | None = None
    ) -> bool:
        """Replace the files of `files` whose bytes changed, in ``supervise/`` of `where`
        (open as `supervise_fd` during setup, which saves opening the directories again);
        whether all were written. A failure is said once (`where.faults`); the driver
        retries through the machine's status timer."""
        changed = self.changed(files)
        if not changed:
            return True
        inject.point("status")
        try:
            if supervise_fd is not None:
                self.write(supervise_fd, changed)
            else:
                with where.opened() as service_fd:
                    opened = fsio.open_dir(fsio.SUPERVISE, service_fd)
                    try:
                        self.write(opened, changed)
                    finally:
                        os.close(opened)
        except WriteFailed as failed:
            path = f"{where.path}/supervise/{failed.name}"
            where.faults.report("status", f"unable to write {path}: {describe(failed.error)}")
            return False
        except OSError as error:
            where.faults.report(
                "status", f"unable to reach {where.path}/supervise: {describe(error)}"
            )
            return False
        where.faults.clear("status")
        return True

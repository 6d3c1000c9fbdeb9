"""A service's directory as its driver reaches it: the one it took, its setting files, and
the cgroup named after it.

The driver keeps no descriptor of the directory between steps (three per
service is the budget). It opens it when a step needs it, at most once for
a burst of steps (a stop reads two settings, signals, and writes the
status), and refuses a directory that is no longer the one it took (same
path, another inode: recreated in place). A setting file that cannot be read
or parsed gives its default, and the fault is said once (`say.Faults`). The
service's cgroup (`supervise.cgroups`) is named after the directory and its
inode, made when first needed and removed when the directory is let go.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TypeVar

import attrs

from supervise import control, fsio, say, settings
from supervise.cgroups import Cgroups
from supervise.errtext import describe
from supervise.say import Faults

T = TypeVar("T")


@attrs.define(eq=False)
class ServiceDir:
    """Directory `path` (svscan renames it when it follows a rename), once taken
    (`identity`: its device and inode); `faults` says what goes wrong with it, once each
    (the driver reports its own faults there too)."""

    path: str
    faults: Faults = attrs.field(factory=Faults)
    identity: tuple[int, int] | None = None
    _open: int | None = None  # opened for the burst under way
    _in_burst: bool = False
    _group_letters: frozenset[control.Command] | None = None  # signal-group, read once a burst
    _cgroup: str | None = None  # this service's cgroup, once made

    @contextlib.contextmanager
    def burst(self, service_fd: int | None = None) -> Iterator[None]:
        """Open the directory at most once for the block, when first needed; `service_fd`
        is one already open (kept open after the block: the caller's)."""
        self._in_burst, self._open = True, service_fd
        try:
            yield
        finally:
            if service_fd is None and self._open is not None:
                os.close(self._open)
            self._in_burst, self._open, self._group_letters = False, None, None

    def opened(self) -> contextlib.AbstractContextManager[int]:
        """The directory, refused (`fsio.Replaced`) if it is no longer the one we took."""
        if not self._in_burst:
            return fsio.directory(self.path, self.identity)
        if self._open is None:
            self._open = fsio.open_expected(self.path, self.identity)
        return contextlib.nullcontext(self._open)

    def setting(self, service_fd: int, name: str, parse: Callable[[str], T], default: T) -> T:
        """The value of setting file `name`, or `default` if absent or unusable (said once)."""
        value, fault = settings.value(service_fd, self.path, name, parse, default)
        if fault is None:
            self.faults.clear(name)
        else:
            self.faults.report(name, fault)
        return value

    def read_setting(self, name: str, parse: Callable[[str], T], default: T) -> T:
        """`setting`, the directory opened for it."""
        try:
            with self.opened() as service_fd:
                return self.setting(service_fd, name, parse, default)
        except OSError as error:
            self.faults.report(name, f"unable to read {self.path}/{name}: {describe(error)}")
            return default

    def has_setting(self, name: str) -> bool:
        """Whether file `name` is there (False if the directory cannot be reached)."""
        return self._holds(settings.exists, name)

    def has_program(self, name: str) -> bool:
        """Whether `name` (``finish``) is a program to run."""
        return self._holds(settings.is_program, name)

    def _holds(self, check: Callable[[int, str], bool], name: str) -> bool:
        try:
            with self.opened() as service_fd:
                return check(service_fd, name)
        except OSError:
            return False

    def signal_group(self) -> frozenset[control.Command]:
        """What ``signal-group`` sends to the process group (absent: nothing), read once a
        burst: a read of 4 KiB of ``h`` opens it once."""
        if self._group_letters is not None:
            return self._group_letters
        letters = self.read_setting(
            "signal-group", settings.parse_group, frozenset[control.Command]()
        )
        if self._in_burst:
            self._group_letters = letters
        return letters

    def cgroup(self, cgroups: Cgroups | None) -> str | None:
        """This service's cgroup (made when first needed), or None without cgroups."""
        if self._cgroup is None and cgroups is not None and self.identity is not None:
            try:
                self._cgroup = cgroups.for_service(self.path, self.identity[1])
                self.faults.clear("cgroup")
            except OSError as error:
                self.faults.report("cgroup", f"unable to create a cgroup for {self.path}: "
                                   f"{describe(error)}; its processes are followed by session")
        return self._cgroup

    def remove_cgroup(self, cgroups: Cgroups | None) -> None:
        """The directory is let go: its cgroup goes too, unless processes are left in it."""
        where = self._cgroup
        if cgroups is not None and where is None and self.identity is not None:
            where = cgroups.path_for(self.path, self.identity[1])  # made by an earlier image
        if cgroups is None or where is None:
            return
        if cgroups.remove(where):
            self._cgroup = None
        else:
            say.line("info", f"{self.path}: processes are left in {where}: it is kept")

"""A multilog log directory: its lock, ``current``, archives, and what a restart finds.

The files and their modes are multilog's (daemontools' multilog.c, checked against
Debian's ``/usr/bin/multilog``):

- the directory is created 0700 if missing (an existing one keeps its mode); ``lock``
  (0600) is held with ``flock``; another holder makes the start fail at once (exit 111,
  ``unable to lock directory D: temporary failure``): the supervisor starts us again.
- ``current`` is 0644 while written, 0744 after a clean exit. A start that finds a 0744
  ``current`` appends to it; any other ``current`` (an unclean exit) becomes the archive
  ``@LABEL.u`` (mode unchanged), and ``state`` is emptied.
- rotation: ``current`` is synced, renamed ``previous``, a new ``current`` is opened,
  ``previous`` is made 0744, hard-linked as ``@LABEL.s`` and removed; then the oldest
  archives (names of 25 characters or more starting with ``@``) are removed until fewer
  than ``n`` remain. A ``previous`` found at start (a rotation cut short) becomes ``.u``
  (or, after multilog's processor, ``processed`` becomes ``.s``).

Every step after the start that fails (a full disk above all) is said on stderr and
retried after a pause, for ever: no line is dropped, and since the logger reads no more
input meanwhile, the backlog waits in the pipe svscan holds. multilog says the warning
again every 5 seconds; svlog retries every second and says it once per episode.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

from cmdline import exits
from cmdline.out import Fatal, unable, warn
from supervise.errtext import describe
from svlog import stamp

PAUSE = 1.0  # seconds between two tries of a failed step

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_APPEND = os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_TRUNC = os.O_WRONLY | os.O_NONBLOCK | os.O_TRUNC | os.O_CREAT | os.O_CLOEXEC
_ARCHIVE_NAME = 25  # "@" and 24 hex digits: shorter @names are not archives

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")


class LogDir:
    """One open, locked log directory; every operation is relative to its descriptor."""

    __slots__ = ("path", "num", "written", "_dir", "_lock", "_current", "_complaint")

    def __init__(self, path: str, num: int) -> None:
        """Open (mkdir 0700), lock and restart `path` as multilog does; `Fatal` 111 if not."""
        self.path = path
        self.num = num
        self._complaint: tuple[str, int] | None = None
        try:
            os.mkdir(path, 0o700)
        except OSError:
            pass
        self._dir = self._start(lambda: os.open(path, _DIRECTORY), f"open directory {path}")
        self._lock = self._start(self._take_lock, f"lock directory {path}")
        self._current, self.written = self._restart()

    # --- start-up: errors are fatal ----------------------------------------------------------

    @staticmethod
    def _start(action: Callable[[], T], what: str) -> T:
        try:
            return action()
        except OSError as error:
            raise Fatal(exits.TEMPORARY, unable(what, error)) from None

    def _take_lock(self) -> int:
        fd = os.open("lock", _APPEND, 0o600, dir_fd=self._dir)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        return fd

    def _restart(self) -> tuple[int, int]:
        """(descriptor of current, its size): append to a clean one, else archive it as .u."""
        where = f"{self.path}/current"
        try:
            info = os.stat("current", dir_fd=self._dir)
        except FileNotFoundError:
            info = None
        except OSError as error:
            raise Fatal(exits.TEMPORARY, unable(f"stat {where}", error)) from None
        if info is not None and info.st_mode & 0o100:
            fd = self._start(lambda: os.open("current", _APPEND, 0o600, dir_fd=self._dir),
                             f"append to {where}")
            self._start(lambda: os.fchmod(fd, 0o644), f"set mode of {where}")
            return fd, info.st_size
        for name in ("state", "newstate"):
            self._unlink_quietly(name)
        self._recover_previous()
        self._finish("current", "u")
        os.close(self._start(lambda: os.open("state", _TRUNC, 0o644, dir_fd=self._dir),
                             f"write to {self.path}/state"))
        fd = self._start(lambda: os.open("current", _APPEND, 0o600, dir_fd=self._dir),
                         f"write to {where}")
        self._start(lambda: os.fchmod(fd, 0o644), f"set mode of {where}")
        return fd, 0

    def _recover_previous(self) -> None:
        """A rotation cut short left ``previous`` (.u), or multilog's ``processed`` (.s)."""
        try:
            processed = os.stat("processed", dir_fd=self._dir).st_mode & 0o100
        except FileNotFoundError:
            processed = 0
        except OSError as error:
            raise Fatal(exits.TEMPORARY, unable(f"stat {self.path}/processed", error)) from None
        if processed:
            self._unlink_quietly("previous")
            self._finish("processed", "s")
        else:
            self._unlink_quietly("processed")
            self._finish("previous", "u")

    def _unlink_quietly(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self._dir)
        except OSError:
            pass

    # --- while running: errors pause and retry ------------------------------------------------

    def write(self, data: bytes) -> None:
        """Append all of `data` to current, pausing and retrying while the disk refuses."""
        view = memoryview(data)
        while view:
            written = self._persist(f"unable to write to {self.path}/current",
                                    os.write, self._current, view)
            view = view[written:]

    def rotate(self) -> None:
        """current becomes the archive @LABEL.s; a new, empty current; old archives go."""
        where = self.path
        self._persist(f"unable to write {where}/current to disk", os.fsync, self._current)
        os.close(self._current)
        self._persist(f"unable to rename current to previous in directory {where}",
                      lambda: os.rename("current", "previous", src_dir_fd=self._dir,
                                        dst_dir_fd=self._dir))
        self._current = self._persist(
            f"unable to create {where}/current",
            lambda: os.open("current", _APPEND, 0o600, dir_fd=self._dir))
        self._persist(f"unable to set mode of {where}/current", os.fchmod, self._current, 0o644)
        self._persist(f"unable to set mode of {where}/previous",
                      lambda: os.chmod("previous", 0o744, dir_fd=self._dir))
        self._finish("previous", "s")

    def close(self) -> None:
        """A clean exit: current synced and made 0744, so the next start appends to it."""
        self._persist(f"unable to write {self.path}/current to disk", os.fsync, self._current)
        self._persist(f"unable to set mode of {self.path}/current", os.fchmod, self._current,
                      0o744)

    def _finish(self, name: str, code: str) -> None:
        """multilog's finish: `name`, if it exists, becomes @LABEL.code; then prune."""
        try:
            info = self._persist(f"unable to stat {self.path}/{name}",
                                 lambda: os.stat(name, dir_fd=self._dir), passing=errno.ENOENT)
        except FileNotFoundError:
            return
        if info.st_nlink == 1:
            self._persist(f"unable to link {self.path}/{name} to an archive", self._link, name,
                          code)
        self._persist(f"unable to remove {self.path}/{name}",
                      lambda: os.unlink(name, dir_fd=self._dir))
        while not self._persist(f"unable to read {self.path}", self._prune_one):
            pass

    def _link(self, name: str, code: str) -> None:
        archive = f"@{stamp.label(time.time_ns())}.{code}"
        os.link(name, archive, src_dir_fd=self._dir, dst_dir_fd=self._dir,
                follow_symlinks=False)

    def _prune_one(self) -> bool:
        """True when fewer than n archives remain; else remove the oldest, False."""
        archives = [name for name in os.listdir(self._dir)
                    if name.startswith("@") and len(name) >= _ARCHIVE_NAME]
        if len(archives) < self.num:
            return True
        oldest = min(archives)
        os.unlink(oldest, dir_fd=self._dir)
        return False

    def _persist(self, what: str, action: Callable[..., T], *args: object,
                 passing: int = 0) -> T:
        """`action(*args)`, retried after a pause for as long as it fails (errno `passing`
        raises).

        The first failure of a kind is said on stderr; the same failure again is not.
        """
        while True:
            try:
                result = action(*args)
            except OSError as error:
                if error.errno == passing:
                    raise
                if self._complaint != (what, error.errno or 0):
                    self._complaint = (what, error.errno or 0)
                    warn(f"{what}, pausing: {describe(error)}")
                time.sleep(PAUSE)
                continue
            self._complaint = None
            return result

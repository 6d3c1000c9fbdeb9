"""What one service directory says about itself, read the way daemontools' svstat reads it.

The steps and their order are svstat's (chdir; stat ``down``; open
``supervise/ok`` for writing without blocking; read ``supervise/status``), so
the first failing step names the same fault daemontools names. On top of that
we read our ``supervise/xstatus`` when it belongs to the status read.

Plain classes with ``__slots__``, not attrs: importing attrs costs more than a
client's whole start-up budget.
"""

from __future__ import annotations

import errno
import os
import time

from supervise import layout, record, tree
from supervise.errtext import describe
from supervise.record import Extra, Status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from supervise.tai import Tai64n

# Why a directory could not be read (`View.fault`).
NOT_RUNNING = "not running"  # no supervisor holds supervise/ok (or there is no supervise/)
UNREADABLE = "unreadable"  # anything else: chdir, down, ok, status


class View:
    """One directory at one moment: its status record, or `error` (a text, as svstat prints
    it), or both when the supervisor is gone but its last status is still there."""

    __slots__ = (
        "_members", "error", "extra", "fault", "followed", "normally_up", "record", "status",
        "torn",
    )

    def __init__(self) -> None:
        self.error = ""
        self.fault = ""
        self.normally_up = True
        self.record = b""  # the bytes of supervise/status, to tie xstatus to
        self.status: Status | None = None
        self.extra: Extra | None = None
        self.torn = False  # xstatus was newer than status on every try: readiness unknown
        self.followed: tuple[str, str] | None = None  # what supervise/tree says
        self._members: list[int] | None = None

    def failed(self, fault: str, error: str) -> View:
        self.fault, self.error = fault, error
        return self

    # --- what the record means, for every supervisor's record ----------------

    @property
    def pid(self) -> int:
        return self.status.pid if self.status else 0

    @property
    def state(self) -> int:
        """runit's byte 19; for daemontools' 18 bytes, run if there is a pid."""
        return self.status.state if self.status else layout.STATE_DOWN

    @property
    def up(self) -> bool:
        """./run is running (not ./finish)."""
        return self.pid != 0 and self.state == layout.STATE_RUN

    @property
    def want(self) -> int:
        return self.status.want if self.status else layout.WANT_UP

    @property
    def flags(self) -> int:
        return self.extra.flags if self.extra else 0

    @property
    def ready(self) -> bool:
        """Up, and ready if the service reports readiness; a supervisor without
        readiness (daemontools, runit) or a service without notification-fd is
        ready when up, as s6 counts it."""
        if not self.up or self.torn:
            return False
        return not self.flags & layout.NOTIFY or bool(self.flags & layout.READY)

    @property
    def ready_stamp(self) -> Tai64n | None:
        """When it became ready: the readiness stamp, or the up stamp when up means ready."""
        if not self.ready or self.status is None:
            return None
        stamp = self.extra.ready_stamp if self.extra is not None else None
        if stamp is not None and self.flags & layout.NOTIFY:
            return stamp
        return self.status.stamp

    @property
    def failed_permanently(self) -> bool:
        return bool(self.flags & layout.FAILED)

    @property
    def finishing(self) -> bool:
        return self.state == layout.STATE_FINISH or bool(self.flags & layout.FINISHING)

    @property
    def backoff_until(self) -> Tai64n | None:
        """While down: when the start a crash loop's back-off holds is due; else None."""
        if self.extra is None or self.pid or not self.flags & layout.BACKOFF:
            return None
        return self.extra.backoff_until

    @property
    def last_exit(self) -> tuple[int, int] | None:
        """(exit code, signal) of the run that ended, while down; None if unknown."""
        if self.extra is None or self.pid or not self.flags & layout.EXITED:
            return None
        return self.extra.exit_code, self.extra.exit_signal

    def members(self) -> list[int]:
        """The processes of the service's tree (main pid, leftovers, finish), counted when
        first asked; none when its tree is not followed (`supervise.tree`)."""
        if self._members is None:
            found = None if self.followed is None else tree.members(*self.followed)
            self._members = found or []
        return self._members

    @property
    def left(self) -> int:
        """Processes left in the tree while ./run is not running (0 while it is)."""
        return 0 if self.up else len(self.members())

    def identity(self) -> tuple[int, int, int]:
        """What changes each time ./run starts or stops: (stamp seconds, nanoseconds, pid)."""
        if self.status is None:
            return (0, 0, 0)
        return self.status.stamp.seconds, self.status.stamp.nanoseconds, self.status.pid


def read(directory: str) -> View:
    """Read `directory` (a path as given). The caller restores the cwd (`cmdline.cwd.Origin`).

    With no supervisor listening the view carries svstat's error, and also the
    last status written when there is one: a supervisor that wrote "down" and
    then exited (``svc -dx``) did get its service down.
    """
    view = View()
    try:
        os.chdir(directory)
    except OSError as error:
        return view.failed(UNREADABLE, f"unable to chdir: {describe(error)}")
    try:
        os.stat("down")
        view.normally_up = False
    except OSError as error:
        if error.errno != errno.ENOENT:
            return view.failed(UNREADABLE, f"unable to stat down: {describe(error)}")
    not_listening = _check_ok()
    error_text = _read_status(view)
    if not_listening is not None:
        return view.failed(*not_listening)
    if error_text is not None:
        return view.failed(UNREADABLE, error_text)
    _read_extra(view)
    view.followed = tree.read()
    return view


def _read_status(view: View) -> str | None:
    """Fill `view.record` and `view.status` from supervise/status; else svstat's error text."""
    try:
        fd = os.open("supervise/status", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        return f"unable to open supervise/status: {describe(error)}"
    try:
        view.record = os.read(fd, 64)
        view.status = record.unpack(view.record)
    except OSError as error:
        return f"unable to read supervise/status: {describe(error)}"
    except layout.StatusFormatError:
        return "unable to read supervise/status: bad format"
    finally:
        os.close(fd)
    return None


def _check_ok() -> tuple[str, str] | None:
    """None if a supervisor listens on supervise/ok, else (fault, svstat's text)."""
    try:
        fd = os.open("supervise/ok", os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ENXIO:
            return NOT_RUNNING, "supervise not running"
        fault = NOT_RUNNING if error.errno == errno.ENOENT else UNREADABLE
        return fault, f"unable to open supervise/ok: {describe(error)}"
    os.close(fd)
    return None


#: Pauses before reading status again when xstatus is newer than it (seconds).
TORN_PAUSES = (0.001, 0.002, 0.004, 0.008, 0.016)


def _read_extra(view: View) -> None:
    """Set `view.extra` from our xstatus when it belongs to `view.record`.

    Our daemon replaces xstatus, then status. A reader between the two renames
    sees an xstatus bound to a status not yet in place (its copy of the stamp is
    newer): it reads both again after a pause, and if that never settles, says
    readiness is unknown (`View.torn`) rather than guess. An xstatus bound to an
    older status is stale (another supervisor runs the directory now): ignored.
    """
    for pause in (*TORN_PAUSES, None):
        data = _read_file("supervise/xstatus")
        if data is None or not layout.extra_newer(data, view.record):
            break
        if pause is None:
            view.torn = True
            return
        time.sleep(pause)
        if _read_status(view) is not None:
            return
    if data is not None and layout.extra_matches(data, view.record):
        try:
            view.extra = record.unpack_extra(data)
        except layout.StatusFormatError:
            pass


def _read_file(name: str) -> bytes | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 64)
    except OSError:
        return None
    finally:
        os.close(fd)

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

from supervise import layout
from supervise.errtext import describe

# Why a directory could not be read (`View.fault`).
NOT_RUNNING = "not running"  # no supervisor holds supervise/ok (or there is no supervise/)
UNREADABLE = "unreadable"  # anything else: chdir, down, ok, status


class View:
    """One directory at one moment: either `error` (a text, as svstat prints it) or fields."""

    __slots__ = ("error", "extra", "fault", "fields", "normally_up", "record")

    def __init__(self) -> None:
        self.error = ""
        self.fault = ""
        self.normally_up = True
        self.record = b""
        self.fields: layout.StatusFields | None = None
        self.extra: layout.ExtraFields | None = None

    def failed(self, fault: str, error: str) -> View:
        self.fault, self.error = fault, error
        return self

    # --- what the fields mean, for every supervisor's record ----------------

    @property
    def pid(self) -> int:
        return self.fields[2] if self.fields else 0

    @property
    def state(self) -> int:
        """runit's byte 19; for daemontools' 18 bytes, run if there is a pid."""
        if self.fields is None:
            return layout.STATE_DOWN
        state = self.fields[6]
        if state is None:
            return layout.STATE_RUN if self.pid else layout.STATE_DOWN
        return state

    @property
    def up(self) -> bool:
        """./run is running (not ./finish)."""
        return self.pid != 0 and self.state == layout.STATE_RUN

    @property
    def want(self) -> int:
        return self.fields[4] if self.fields else layout.WANT_UP

    @property
    def flags(self) -> int:
        return self.extra[0] if self.extra else 0

    @property
    def ready(self) -> bool:
        """Up, and ready if the service reports readiness; a supervisor without
        readiness (daemontools, runit) or a service without notification-fd is
        ready when up, as s6 counts it."""
        if not self.up:
            return False
        return not self.flags & layout.NOTIFY or bool(self.flags & layout.READY)

    @property
    def ready_stamp(self) -> tuple[int, int] | None:
        """When it became ready: the readiness stamp, or the up stamp when up means ready."""
        if not self.ready or self.fields is None:
            return None
        if self.extra is not None and self.flags & layout.NOTIFY and self.extra[1]:
            return self.extra[1]
        return self.fields[0], self.fields[1]

    @property
    def failed_permanently(self) -> bool:
        return bool(self.flags & layout.FAILED)

    @property
    def finishing(self) -> bool:
        return self.state == layout.STATE_FINISH or bool(self.flags & layout.FINISHING)

    @property
    def last_exit(self) -> tuple[int, int] | None:
        """(exit code, signal) of the run that ended, while down; None if unknown."""
        if self.extra is None or self.pid or not self.flags & layout.EXITED:
            return None
        return self.extra[2], self.extra[3]

    def identity(self) -> tuple[int, int, int]:
        """What changes each time ./run starts or stops: (stamp seconds, nanoseconds, pid)."""
        if self.fields is None:
            return (0, 0, 0)
        return self.fields[0], self.fields[1], self.fields[2]


def read(directory: str) -> View:
    """Read `directory` (a path as given). The caller restores the cwd (`svc.cwd.Origin`)."""
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
    error_text = _check_ok()
    if error_text is not None:
        return view.failed(*error_text)
    try:
        fd = os.open("supervise/status", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        return view.failed(UNREADABLE, f"unable to open supervise/status: {describe(error)}")
    try:
        view.record = os.read(fd, 64)
        view.fields = layout.unpack_status(view.record)
    except OSError as error:
        return view.failed(UNREADABLE, f"unable to read supervise/status: {describe(error)}")
    except layout.StatusFormatError:
        return view.failed(UNREADABLE, "unable to read supervise/status: bad format")
    finally:
        os.close(fd)
    view.extra = _read_extra(view.record)
    return view


def listening(directory: str = ".") -> bool:
    """Whether a supervisor holds ``DIRECTORY/supervise/ok`` open for reading."""
    return _check_ok(directory) is None


def _check_ok(directory: str = ".") -> tuple[str, str] | None:
    """None if a supervisor listens on supervise/ok, else (fault, svstat's text)."""
    try:
        fd = os.open(f"{directory}/supervise/ok", os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ENXIO:
            return NOT_RUNNING, "supervise not running"
        fault = NOT_RUNNING if error.errno == errno.ENOENT else UNREADABLE
        return fault, f"unable to open supervise/ok: {describe(error)}"
    os.close(fd)
    return None


def _read_extra(record: bytes) -> layout.ExtraFields | None:
    """Our xstatus, if there is one and it was written with `record`; else None."""
    try:
        fd = os.open("supervise/xstatus", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 64)
        if not layout.extra_matches(data, record):
            return None
        return layout.unpack_extra(data)
    except (OSError, layout.StatusFormatError):
        return None
    finally:
        os.close(fd)


"""The daemon's SIGHUP exec: the same program again, the state handed over in a memfd.

The state (`supervise.handover`'s bytes) crosses ``execve`` in a memfd whose
number is in the environment variable `ENV`; every descriptor it names is
made inheritable just for the exec. Children stay ours across exec (same
pid), so the new daemon reaps them. The daemon's signals
(`process.HELD_SIGNALS`) are blocked before the exec and unblocked by the new
daemon once it listens, so none is lost or fatal in between. If the exec
cannot happen, the caller undoes all of this and carries on.

Standard library only: the command lines read the handover (`receive`) and
work out the command line (`command_line`) before the daemon loads anything.
"""

from __future__ import annotations

import os
import signal

from supervise import inject
from supervise.errtext import describe
from supervise.process import HELD_SIGNALS

ENV = "TRIO_SUPERVISE_HANDOVER_FD"
#: The fault history of self-healing (`supervise.healing`) crosses the exec here.
FAULTS_ENV = "TRIO_SUPERVISE_FAULTS"
#: What else crosses the exec in the environment, and is taken out of it (`take_carried`)
#: before any service starts: the fault history, and the test hook's file.
CARRIED = (FAULTS_ENV, inject.ENV)


class CannotExec(Exception):
    """The re-exec did not happen; the message says why, and the daemon carries on."""



def command_line(
    orig_argv: list[str], executable: str, args: list[str], given: int | None = None
) -> list[str]:
    """The interpreter part of `orig_argv` with paths made absolute, followed by `args`.

    `orig_argv` is ``sys.orig_argv``: the interpreter, its options, then the
    script or ``-m module``, then the `given` words of the program's own
    arguments (default: as many as `args`). `args` replace those words (the
    scan root made absolute, even when it was left out). Resolved at
    startup, before svscan changes directory.
    """
    if not orig_argv:
        raise ValueError("no original command line")
    given = len(args) if given is None else given
    program = list(orig_argv[: len(orig_argv) - given]) if given else list(orig_argv)
    program = program[:1] + [_absolute(word) for word in program[1:]]
    program[0] = os.path.abspath(executable)
    return [*program, *args]


def _absolute(word: str) -> str:
    return os.path.abspath(word) if not word.startswith("-") and os.path.isfile(word) else word


def check_program(argv: list[str]) -> None:
    """Refuse an exec that would fail after the point of no return.

    A deleted script or scan root would make the new daemon die at once and
    leave the services unsupervised; every absolute path in `argv` must be there.
    """
    if not os.access(argv[0], os.X_OK):
        raise CannotExec(f"unable to run {argv[0]}: not executable or gone")
    for word in argv[1:]:
        if os.path.isabs(word) and not os.access(word, os.R_OK):
            raise CannotExec(f"unable to read {word}: gone or not readable")


def reexec(
    argv: list[str], payload: bytes | None, keep: list[int], extra: dict[str, str] | None = None
) -> CannotExec:
    """Exec `argv` with `payload` handed over and `keep` inherited; on failure, undo and say why.

    `payload` None hands nothing over: the new image starts afresh and takes
    back each running service by its pid, as after a ``kill -9`` (see
    `supervise.adoption`). `extra` variables are added to its environment.
    The caller blocks `HELD_SIGNALS` first (the new daemon unblocks them once it
    listens), and unblocks them itself if this returns: the exec did not happen.
    """
    environment = {**os.environ, **(extra or {})}
    memfd = None
    try:
        check_program(argv)
        if payload is not None:
            memfd = os.memfd_create("svscan-handover", 0)
            os.write(memfd, payload)
            os.lseek(memfd, 0, os.SEEK_SET)
            environment[ENV] = str(memfd)
    except (OSError, CannotExec) as error:
        if memfd is not None:
            os.close(memfd)
        return error if isinstance(error, CannotExec) else CannotExec(str(error))
    for fd in keep:
        os.set_inheritable(fd, True)
    try:
        os.execve(argv[0], argv, environment)
    except OSError as error:
        failure = CannotExec(f"unable to exec {argv[0]}: {describe(error)}")
    for fd in keep:
        os.set_inheritable(fd, False)
    if memfd is not None:
        os.close(memfd)
    return failure


def receive() -> bytes | None:
    """The payload a previous daemon handed us (and forget the variable), or None."""
    number = os.environ.pop(ENV, None)
    if number is None:
        return None
    fd = int(number)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def take_carried() -> dict[str, str]:
    """The `CARRIED` variables there are, taken out of the environment (no service
    inherits them)."""
    return {name: os.environ.pop(name) for name in CARRIED if name in os.environ}


def release_signals() -> None:
    """Unblock what `reexec` blocked (a no-op for a daemon started afresh)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_SIGNALS)

"""The daemon's SIGHUP: re-execute it and hand it the running services.

The state crosses ``execve`` in a memfd whose number is in the environment
variable `ENV`; every descriptor it names (locks, control and ok FIFOs, log
pipes, readiness pipes) is made inheritable just for the exec. Children stay
ours across exec (same pid), so the new daemon reaps them. The daemon's
signals are blocked before the exec (those already caught are re-raised into
the blocked set) and unblocked by the new daemon once it listens, so none is
lost or fatal in between. If the exec cannot happen, the caller undoes all of
this and carries on.

What crosses is typed and frozen (`ServiceHandover`, `EntryHandover`,
`DaemonHandover`); this module imports no trio, and `encode`/`decode` are
pure: JSON of plain values, enums by name. `decode` is tolerant of a
`machine.State` that gained or lost fields between the two images: a field
missing from the payload takes its default, an unknown one is dropped.
"""

from __future__ import annotations

import enum
import json
import os
import signal
from typing import Any

import attrs

from supervise import machine
from supervise.errtext import describe

ENV = "TRIO_SUPERVISE_HANDOVER_FD"
VERSION = 1
#: Blocked across the exec; the new daemon unblocks them once its receivers are in place.
HELD_SIGNALS = frozenset(
    {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGPWR, signal.SIGUSR1,
     signal.SIGALRM, signal.SIGCHLD}
)


class CannotExec(Exception):
    """The re-exec did not happen; the message says why, and the daemon carries on."""


# --- the records ------------------------------------------------------------------


@attrs.frozen
class ServiceHandover:
    """One supervised directory as a re-executed daemon receives it (see `Service.export`).

    `timers` hold the seconds left on each pending deadline (negative: overdue).
    Whether the current run has a readiness pipe, and its number, are in `state`.
    `faulted`: a fault escaped this service's driver, perhaps in the middle of
    an action: the new image recovers it (`machine.recovered`).
    """

    fds: dict[str, int]
    state: machine.State
    timers: dict[machine.Timer, float]
    ready_fd: int | None
    identity: tuple[int, int] | None = None
    faulted: bool = False

    def descriptors(self) -> list[int]:
        """Every fd this service holds: they must survive the exec."""
        numbers = list(self.fds.values())
        if self.ready_fd is not None:
            numbers.append(self.ready_fd)
        return numbers


@attrs.frozen
class EntryHandover:
    """One entry of the daemon: a directory, its logger if any, the pipe between them.

    `main` or `log` is None when that directory is not held at the moment
    (refused, released and waiting to be taken again, or no ``log/``).
    `pipe` is (read end, write end); the write end is None once closed for
    the logger to drain.
    """

    name: str
    key: tuple[int, int]
    pipe: tuple[int, int | None] | None = None
    main: ServiceHandover | None = None
    log: ServiceHandover | None = None

    def descriptors(self) -> list[int]:
        """Every fd this entry holds: its pipe's ends and its services'."""
        numbers = [fd for fd in self.pipe or () if fd is not None]
        for service in (self.main, self.log):
            if service is not None:
                numbers.extend(service.descriptors())
        return numbers


@attrs.frozen
class DaemonHandover:
    """Everything a daemon hands to its re-executed image.

    `exit_code` is the code the daemon would exit with now (``supervise``: 111
    once a directory was refused), so the new image ends the same way.
    """

    entries: tuple[EntryHandover, ...] = ()
    exit_code: int = 0

    def descriptors(self) -> list[int]:
        """Every fd the tree names: they must survive the exec."""
        return [fd for entry in self.entries for fd in entry.descriptors()]


# --- pure codec ---------------------------------------------------------------


def encode(handover: DaemonHandover) -> bytes:
    """The handover as JSON bytes, versioned."""
    entries = [_encode_entry(entry) for entry in handover.entries]
    return json.dumps(
        {"version": VERSION, "entries": entries, "exit_code": handover.exit_code}
    ).encode()


def decode(payload: bytes) -> DaemonHandover:
    """The handover `encode` made. Raises ValueError (or KeyError, TypeError) if unusable."""
    data = json.loads(payload)
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError("handover from an incompatible version")
    return DaemonHandover(
        tuple(_decode_entry(entry) for entry in data["entries"]),
        int(data.get("exit_code", 0)),
    )


def encode_service(service: ServiceHandover) -> dict[str, Any]:
    return {
        "fds": service.fds,
        "state": encode_state(service.state),
        "timers": {timer.value: left for timer, left in service.timers.items()},
        "ready_fd": service.ready_fd,
        "identity": None if service.identity is None else list(service.identity),
        "faulted": service.faulted,
    }


def decode_service(data: dict[str, Any]) -> ServiceHandover:
    identity = data.get("identity")
    return ServiceHandover(
        fds={name: int(fd) for name, fd in data["fds"].items()},
        state=decode_state(data["state"]),
        timers={machine.Timer(name): float(left) for name, left in data["timers"].items()},
        ready_fd=data["ready_fd"],
        identity=None if identity is None else (int(identity[0]), int(identity[1])),
        faulted=bool(data.get("faulted", False)),
    )


def encode_state(state: machine.State) -> dict[str, Any]:
    """Every field of `state` by name: enums by their name, tuples as lists."""
    return {
        field.name: _plain(getattr(state, field.name)) for field in attrs.fields(machine.State)
    }


def decode_state(data: dict[str, Any]) -> machine.State:
    """The state of `encode_state`; a field the payload lacks takes its default, an unknown
    one is dropped (the two images may differ by a field)."""
    fields: dict[str, Any] = {}
    for field in attrs.fields(machine.State):
        if field.name in data:
            fields[field.name] = _typed(field, data[field.name])
    return machine.State(**fields)


def _encode_entry(entry: EntryHandover) -> dict[str, Any]:
    return {
        "name": entry.name,
        "key": list(entry.key),
        "pipe": None if entry.pipe is None else list(entry.pipe),
        "main": None if entry.main is None else encode_service(entry.main),
        "log": None if entry.log is None else encode_service(entry.log),
    }


def _decode_entry(data: dict[str, Any]) -> EntryHandover:
    pipe = data.get("pipe")
    main, log = data.get("main"), data.get("log")
    return EntryHandover(
        name=str(data["name"]),
        key=(int(data["key"][0]), int(data["key"][1])),
        pipe=None if pipe is None else (int(pipe[0]), None if pipe[1] is None else int(pipe[1])),
        main=None if main is None else decode_service(main),
        log=None if log is None else decode_service(log),
    )


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, tuple):
        return list(value)
    return value


def _typed(field: attrs.Attribute[Any], value: object) -> object:
    """A JSON value back in the type of `field`: an enum by name (the default's type tells
    which enum), a list as a tuple."""
    if isinstance(field.default, enum.Enum) and isinstance(value, str):
        return type(field.default)[value]
    if isinstance(value, list):
        return tuple(value)
    return value


# --- the exec --------------------------------------------------------------------


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


def release_signals() -> None:
    """Unblock what `reexec` blocked (a no-op for a daemon started afresh)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_SIGNALS)

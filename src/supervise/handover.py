"""svscan's SIGHUP: re-execute the daemon and hand it the running tree.

The state crosses ``execve`` in a memfd whose number is in the environment
variable `ENV`; every descriptor it names (locks, control and ok FIFOs, log
pipes, readiness pipes) is made inheritable just for the exec. Children stay
ours across exec (same pid), so the new daemon reaps them. The daemon's
signals are blocked before the exec (those already caught are re-raised into
the blocked set) and unblocked by the new daemon once it listens, so none is
lost or fatal in between. If the exec cannot happen, the caller undoes all of
this and carries on.

`encode`/`decode` are pure: JSON of plain values, enums by name.
"""

from __future__ import annotations

import enum
import json
import os
import signal
from typing import Any

import attrs

from supervise import machine, status

ENV = "TRIO_SUPERVISE_HANDOVER_FD"
VERSION = 1
#: Blocked across the exec; the new daemon unblocks them once its receivers are in place.
HELD_SIGNALS = frozenset(
    {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGPWR, signal.SIGUSR1,
     signal.SIGALRM, signal.SIGCHLD}
)
_ENUMS: dict[str, type[enum.Enum]] = {"phase": machine.Phase, "want": status.Want}


@attrs.frozen
class Adopted:
    """One supervised directory as a re-executed daemon receives it (see `Service.export`)."""

    fds: dict[str, int]
    state: machine.State
    timers: dict[machine.Timer, float]
    notify: bool
    ready_fd: int | None
    starts: int
    identity: tuple[int, int] | None = None


class CannotExec(Exception):
    """The re-exec did not happen; the message says why, and the daemon carries on."""


# --- pure codec ---------------------------------------------------------------


def encode_adopted(adopted: Adopted) -> dict[str, Any]:
    state = {
        field.name: _plain(getattr(adopted.state, field.name))
        for field in attrs.fields(machine.State)
    }
    return {
        "fds": adopted.fds,
        "state": state,
        "timers": {timer.value: left for timer, left in adopted.timers.items()},
        "notify": adopted.notify,
        "ready_fd": adopted.ready_fd,
        "starts": adopted.starts,
        "identity": None if adopted.identity is None else list(adopted.identity),
    }


def decode_adopted(data: dict[str, Any]) -> Adopted:
    fields = {}
    for name, value in data["state"].items():
        if name in _ENUMS:
            value = _ENUMS[name][value]
        elif name == "last_exit" and value is not None:
            value = (value[0], value[1])
        fields[name] = value
    return Adopted(
        fds={name: int(fd) for name, fd in data["fds"].items()},
        state=machine.State(**fields),
        timers={machine.Timer(name): float(left) for name, left in data["timers"].items()},
        notify=bool(data["notify"]),
        ready_fd=data["ready_fd"],
        starts=int(data["starts"]),
        identity=None if data.get("identity") is None else tuple(data["identity"]),
    )


def encode(entries: list[dict[str, Any]]) -> bytes:
    """The whole tree, entries as `Entry.export` made them (their services still `Adopted`)."""
    plain = [
        {**entry, **{kind: _maybe(encode_adopted, entry[kind]) for kind in ("main", "log")}}
        for entry in entries
    ]
    return json.dumps({"version": VERSION, "entries": plain}).encode()


def decode(payload: bytes) -> list[dict[str, Any]]:
    """The entries of `encode`, services back as `Adopted`. Raises ValueError if unusable."""
    data = json.loads(payload)
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError("handover from an incompatible version")
    return [
        {**entry, **{kind: _maybe(decode_adopted, entry[kind]) for kind in ("main", "log")}}
        for entry in data["entries"]
    ]


def descriptors(entries: list[dict[str, Any]]) -> list[int]:
    """Every fd the encoded tree names: they must survive the exec."""
    numbers: list[int] = []
    for entry in entries:
        numbers.extend(fd for fd in entry["pipe"] or () if fd is not None)
        for kind in ("main", "log"):
            adopted = entry[kind]
            if adopted is not None:
                numbers.extend(adopted.fds.values())
                if adopted.ready_fd is not None:
                    numbers.append(adopted.ready_fd)
    return numbers


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, tuple):
        return list(value)
    return value


def _maybe(function: Any, value: Any) -> Any:
    return None if value is None else function(value)


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


def reexec(argv: list[str], payload: bytes, keep: list[int]) -> CannotExec:
    """Exec `argv` with `payload` handed over and `keep` inherited; on failure, undo and say why.

    The caller blocks `HELD_SIGNALS` first (the new daemon unblocks them once it
    listens), and unblocks them itself if this returns: the exec did not happen.
    """
    memfd = os.memfd_create("svscan-handover", 0)
    try:
        os.write(memfd, payload)
        os.lseek(memfd, 0, os.SEEK_SET)
        check_program(argv)
    except (OSError, CannotExec) as error:
        os.close(memfd)
        return error if isinstance(error, CannotExec) else CannotExec(str(error))
    environment = {**os.environ, ENV: str(memfd)}
    for fd in keep:
        os.set_inheritable(fd, True)
    try:
        os.execve(argv[0], argv, environment)
    except OSError as error:
        failure = CannotExec(f"unable to exec {argv[0]}: {error.strerror}")
    for fd in keep:
        os.set_inheritable(fd, False)
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

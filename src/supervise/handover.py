"""What a daemon hands to its next image: the running services, typed and frozen.

Written before a SIGHUP's exec (`supervise.reexec` carries the bytes), or
made by the first pass (`supervise.prestart`, as plain values) for the daemon
that takes over the services it started.

What crosses is typed and frozen (`ServiceHandover`, `EntryHandover`,
`DaemonHandover`); this module imports no trio, and `encode`/`decode` are
pure: JSON of plain values, enums by name. `decode` is tolerant of a
`machine.State` that gained or lost fields between the two images: a field
missing from the payload takes its default, an unknown one is dropped.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs

from supervise import machine

VERSION = 1


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
    #: Made by the first pass (`supervise.prestart`), not by a daemon: the directories
    #: not in `entries` are still to be taken. Never crosses an exec.
    fresh: bool = False

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
    return decode_plain({**data, "fresh": False})


def decode_plain(data: dict[str, Any]) -> DaemonHandover:
    """The handover from plain values: `decode`'s JSON, or the first pass's own."""
    return DaemonHandover(
        tuple(_decode_entry(entry) for entry in data["entries"]),
        int(data.get("exit_code", 0)),
        bool(data.get("fresh", False)),
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

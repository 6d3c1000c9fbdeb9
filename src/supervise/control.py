"""Control bytes: what each letter written to ``supervise/control`` means, for the daemon.

Pure: no I/O, no trio. The letters are `supervise.alphabet`'s (the one table
``svc`` reads too); here they become an enum and the signals they deliver.
Any other byte is ignored, as every peer ignores it.
encore's selectors (``+ = L l``) are read by `route`, which says where each
command goes.
"""

from __future__ import annotations

import enum
import signal

import attrs

from supervise import alphabet


class Command(enum.Enum):
    """One control command; the value is its byte (`supervise.alphabet`)."""

    UP = alphabet.UP
    DOWN = alphabet.DOWN
    ONCE = alphabet.ONCE
    PAUSE = alphabet.PAUSE
    CONTINUE = alphabet.CONTINUE
    HUP = alphabet.HUP
    ALARM = alphabet.ALARM
    INTERRUPT = alphabet.INTERRUPT
    TERM = alphabet.TERM
    KILL = alphabet.KILL
    EXIT = alphabet.EXIT
    QUIT = alphabet.QUIT
    USR1 = alphabet.USR1
    USR2 = alphabet.USR2
    WINCH = alphabet.WINCH
    WINCH_S6 = alphabet.WINCH_S6


#: Commands that only deliver a signal to the running service.
SIGNALS: dict[Command, signal.Signals] = {
    Command(letter): signal.Signals[name] for letter, name in alphabet.SIGNALS.items()
}

#: The commands whose signals may go to the service's process group (`route`, and the
#: ``signal-group`` file).
GROUP_COMMANDS = frozenset(Command(letter) for letter in alphabet.GROUP_LETTERS)

_BY_BYTE: dict[int, Command] = {command.value[0]: command for command in Command}
#: Every byte that is not a command, for `bytes.translate` to drop at C speed.
_NOT_COMMANDS = bytes(byte for byte in range(256) if byte not in _BY_BYTE)
_GROUP, _MAIN_PID, _LOG, _MAIN = (selector[0] for selector in alphabet.SELECTORS)
_SELECTORS = b"".join(alphabet.SELECTORS)
#: Every byte that is neither a command nor a selector.
_NOT_ROUTED = bytes(
    byte for byte in range(256) if byte not in _BY_BYTE and byte not in (_GROUP, _MAIN_PID,
                                                                          _LOG, _MAIN)
)


@attrs.frozen
class Routed:
    """One read of ``control``, routed (`route`).

    `commands` are this service's, each with the target of its signals: True after
    ``+`` (the process group), False after ``=`` (the main pid), None when not said
    (the service's default: the ``signal-group`` file). `log` is what goes to the log
    service, each ``L`` part as its own command: ``l`` then the part's bytes.
    """

    commands: tuple[tuple[Command, bool | None], ...]
    log: bytes = b""


def route(data: bytes) -> Routed:
    """Where each command of one read goes, as daemontools-encore's supervise reads them.

    ``+``/``=`` hold until the next selector or the end of the read; unlike
    encore, ``L`` and ``l`` also go back to the default target, so that each of
    encore's svc commands (which all begin with ``l``) starts afresh even when two
    arrive in one read. Unknown bytes are dropped.
    """
    kept = data.translate(None, _NOT_ROUTED)
    plain = kept.translate(None, _SELECTORS)
    if len(plain) == len(kept):
        return Routed(tuple((_BY_BYTE[byte], None) for byte in plain))
    commands: list[tuple[Command, bool | None]] = []
    log = bytearray()
    group: bool | None = None
    to_log = False
    for byte in kept:
        if byte in (_LOG, _MAIN):
            to_log, group = byte == _LOG, None
            if to_log:
                log.append(_MAIN)
        elif to_log:
            log.append(byte)
        elif byte in (_GROUP, _MAIN_PID):
            group = byte == _GROUP
        else:
            commands.append((_BY_BYTE[byte], group))
    if not log.translate(None, _NOT_COMMANDS):
        log.clear()  # selectors alone: nothing for the log to do
    return Routed(tuple(commands), bytes(log))


def parse(data: bytes) -> list[Command]:
    """The commands in `data`, in the order written; unknown bytes are dropped."""
    return [_BY_BYTE[byte] for byte in data.translate(None, _NOT_COMMANDS)]


def encode(commands: list[Command]) -> bytes:
    """The bytes a client writes for `commands` (one ``write``)."""
    return b"".join(command.value for command in commands)

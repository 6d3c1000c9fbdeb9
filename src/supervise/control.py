"""Control bytes: what each letter written to ``supervise/control`` means, for the daemon.

Pure: no I/O, no trio. The letters are `supervise.alphabet`'s (the one table
``svc`` reads too); here they become an enum and the signals they deliver.
Any other byte is ignored, as every peer ignores it.
"""

from __future__ import annotations

import enum
import signal

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

_BY_BYTE: dict[int, Command] = {command.value[0]: command for command in Command}
#: Every byte that is not a command, for `bytes.translate` to drop at C speed.
_NOT_COMMANDS = bytes(byte for byte in range(256) if byte not in _BY_BYTE)


def parse(data: bytes) -> list[Command]:
    """The commands in `data`, in the order written; unknown bytes are dropped."""
    return [_BY_BYTE[byte] for byte in data.translate(None, _NOT_COMMANDS)]


def encode(commands: list[Command]) -> bytes:
    """The bytes a client writes for `commands` (one ``write``)."""
    return b"".join(command.value for command in commands)

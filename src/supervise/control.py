"""Control bytes: what each letter written to ``supervise/control`` means.

Pure: no I/O, no trio. The table is daemontools' (``u d o p c h a i t k x``,
with daemontools' meaning of ``x``: exit once the service is down, without
stopping it), plus runit's and s6's ``q 1 2``, and SIGWINCH under both the
letter encore's svc sends (``w``) and s6-svc's (``y``). Any other byte is
ignored, as every peer ignores it.
"""

from __future__ import annotations

import enum
import signal


class Command(enum.Enum):
    """One control command; the value is its byte."""

    UP = b"u"
    DOWN = b"d"
    ONCE = b"o"
    PAUSE = b"p"
    CONTINUE = b"c"
    HUP = b"h"
    ALARM = b"a"
    INTERRUPT = b"i"
    TERM = b"t"
    KILL = b"k"
    EXIT = b"x"
    QUIT = b"q"
    USR1 = b"1"
    USR2 = b"2"
    WINCH = b"w"  # daemontools-encore's letter
    WINCH_S6 = b"y"  # s6's letter (our svc -y sends it)


#: Commands that only deliver a signal to the running service.
SIGNALS: dict[Command, signal.Signals] = {
    Command.HUP: signal.SIGHUP,
    Command.ALARM: signal.SIGALRM,
    Command.INTERRUPT: signal.SIGINT,
    Command.TERM: signal.SIGTERM,
    Command.KILL: signal.SIGKILL,
    Command.QUIT: signal.SIGQUIT,
    Command.USR1: signal.SIGUSR1,
    Command.USR2: signal.SIGUSR2,
    Command.WINCH: signal.SIGWINCH,
    Command.WINCH_S6: signal.SIGWINCH,
}

_BY_BYTE: dict[int, Command] = {command.value[0]: command for command in Command}


def parse(data: bytes) -> list[Command]:
    """The commands in `data`, in the order written; unknown bytes are dropped."""
    return [_BY_BYTE[byte] for byte in data if byte in _BY_BYTE]


def encode(commands: list[Command]) -> bytes:
    """The bytes a client writes for `commands` (one ``write``)."""
    return b"".join(command.value for command in commands)

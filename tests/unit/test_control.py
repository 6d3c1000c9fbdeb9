"""Control bytes: each letter's command and signal, and that everything else is ignored.

The letters are daemontools' ``u d o p c h a i t k x`` plus runit/s6's
``q 1 2``, encore's ``w`` and s6's ``y`` (read in each one's source:
daemontools 0.76 supervise.c, runit 2.1.2 runsv.c, s6 2.11 s6-supervise.c, encore's supervise.c).
"""

from __future__ import annotations

import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervise.control import SIGNALS, Command, encode, parse

#: letter -> (command, signal it delivers or None)
LETTERS: dict[bytes, tuple[Command, signal.Signals | None]] = {
    b"u": (Command.UP, None),
    b"d": (Command.DOWN, None),
    b"o": (Command.ONCE, None),
    b"p": (Command.PAUSE, None),  # SIGSTOP, but it also sets the paused flag
    b"c": (Command.CONTINUE, None),  # SIGCONT, but it also clears the flag
    b"x": (Command.EXIT, None),
    b"h": (Command.HUP, signal.SIGHUP),
    b"a": (Command.ALARM, signal.SIGALRM),
    b"i": (Command.INTERRUPT, signal.SIGINT),
    b"t": (Command.TERM, signal.SIGTERM),
    b"k": (Command.KILL, signal.SIGKILL),
    b"q": (Command.QUIT, signal.SIGQUIT),
    b"1": (Command.USR1, signal.SIGUSR1),
    b"2": (Command.USR2, signal.SIGUSR2),
    b"w": (Command.WINCH, signal.SIGWINCH),
    b"y": (Command.WINCH_S6, signal.SIGWINCH),
}

KNOWN = frozenset(letter[0] for letter in LETTERS)


def test_letters_are_exactly_the_commands() -> None:
    """Every Command has a letter in the table and no two share one."""
    assert {command for command, _ in LETTERS.values()} == set(Command)
    assert len(LETTERS) == len(Command)


@pytest.mark.parametrize(("letter", "expected"), LETTERS.items(), ids=[k.decode() for k in LETTERS])
def test_letter(letter: bytes, expected: tuple[Command, signal.Signals | None]) -> None:
    """Each byte parses to its command, whose value is that byte, with the right signal."""
    command, signum = expected
    assert parse(letter) == [command]
    assert command.value == letter
    assert encode([command]) == letter
    assert SIGNALS.get(command) == signum


def test_signal_only_commands() -> None:
    """Only h a i t k q 1 2 w y are pure signals; u d o p c x change state."""
    assert set(SIGNALS) == {command for command, signum in LETTERS.values() if signum}


@pytest.mark.parametrize("byte", sorted(set(range(256)) - KNOWN))
def test_every_other_byte_ignored(byte: int) -> None:
    """Unknown bytes are dropped silently, as every peer does (strace of daemontools' supervise)."""
    assert parse(bytes((byte,))) == []


def test_peer_letters_we_ignore() -> None:
    """s6's b r D U O Q, encore's selectors and uppercase look-alikes do nothing here."""
    assert parse(b"brDUOQ+=LlUDXTK") == []


def test_order_preserved_and_unknown_dropped() -> None:
    """``Zz?\\n`` is ignored and the rest are applied in the order written."""
    assert parse(b"duxk") == [Command.DOWN, Command.UP, Command.EXIT, Command.KILL]
    assert parse(b"Zz?\nt\x00c\xffu") == [Command.TERM, Command.CONTINUE, Command.UP]


def test_duplicates_kept() -> None:
    """parse does not dedupe: s6-svc may send the same byte twice and each counts."""
    assert parse(b"tt") == [Command.TERM, Command.TERM]


def test_sv_restart_bytes() -> None:
    """sv restart writes ``tcu`` in one write."""
    assert encode([Command.TERM, Command.CONTINUE, Command.UP]) == b"tcu"


def test_empty() -> None:
    """No bytes, no commands; no commands, no bytes."""
    assert parse(b"") == []
    assert encode([]) == b""


@given(st.lists(st.sampled_from(Command)))
def test_parse_encode_round_trip(commands: list[Command]) -> None:
    """parse(encode(x)) == x for any command list."""
    assert parse(encode(commands)) == commands


@given(st.binary(max_size=256))
def test_parse_never_raises(data: bytes) -> None:
    """Arbitrary bytes parse; the result is the known bytes, in order."""
    commands = parse(data)
    assert encode(commands) == bytes(byte for byte in data if byte in KNOWN)

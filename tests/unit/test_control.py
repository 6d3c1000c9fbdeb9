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

from supervise.control import GROUP_COMMANDS, SIGNALS, Command, Routed, encode, parse, route

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


# --- encore's selectors: where each command goes (route) ------------------------------

H, T, D, U = Command.HUP, Command.TERM, Command.DOWN, Command.UP


@pytest.mark.parametrize(
    ("data", "commands", "log"),
    [
        # no selector: every command to the service's default target
        (b"hd", ((H, None), (D, None)), b""),
        # what encore's svc writes (it always begins with l): svc -h, -+ -h, -+ -h -= -t
        (b"lh", ((H, None),), b""),
        (b"l+h", ((H, True),), b""),
        (b"l+h=t", ((H, True), (T, False)), b""),
        # + holds for d and u too (u signals nothing: the machine ignores the target)
        (b"+du", ((D, True), (U, True)), b""),
        # svc -L -h, -L -+ -h -l -t: the log's part is handed on, beginning with l
        (b"lLh", (), b"lh"),
        (b"lL+hlt", ((T, None),), b"l+h"),
        # two of encore's commands read at once: the second starts from the default
        (b"l+hlt", ((H, True), (T, None)), b""),
        # unlike encore, L and l also put the default target back: the + does not follow
        (b"+Lhlt", ((T, None),), b"lh"),
        # selectors alone say nothing to anyone; unknown bytes are dropped around them
        (b"L+=l", (), b""),
        (b"?+\nh\x00Lz", ((H, True),), b""),
        (b"LhLt", (), b"lhlt"),
    ],
)
def test_route(data: bytes, commands: tuple[tuple[Command, bool | None], ...], log: bytes) -> None:
    """Each command with its target (True group, False main pid, None default) and the log's."""
    routed = route(data)
    assert routed.commands == commands
    assert routed.log == log


@given(st.binary(max_size=256))
def test_route_without_selectors_is_parse(data: bytes) -> None:
    """Bytes without a selector route every command to the default target, as parsed."""
    plain = data.translate(None, b"+=Ll")
    assert route(plain) == Routed(tuple((command, None) for command in parse(plain)))


@given(st.binary(max_size=256))
def test_route_keeps_every_command_once(data: bytes) -> None:
    """Every command byte goes to the service or to the log, in order, none lost or added."""
    routed = route(data)
    ours = encode([command for command, _ in routed.commands])
    theirs = encode(parse(routed.log))
    assert sorted(ours + theirs) == sorted(encode(parse(data)))
    assert route(routed.log).log == b""  # what the log gets holds no L: it is never handed on


def test_group_commands_are_those_that_signal() -> None:
    """d p c and the pure signals can go to the group; u o x signal nothing."""
    assert GROUP_COMMANDS == {Command.DOWN, Command.PAUSE, Command.CONTINUE, *SIGNALS}

"""The ``signal-group`` file's letters (the other settings are tested through the daemon)."""

from __future__ import annotations

import pytest

from supervise.control import GROUP_COMMANDS, Command
from supervise.settings import SettingError, parse_group


@pytest.mark.parametrize("text", ["", "\n", "  \t\n"])
def test_empty_file_sends_every_signal_but_d(text: str) -> None:
    """An empty file: the group gets every signal of a letter, p and c; d stays the main pid's."""
    assert parse_group(text) == GROUP_COMMANDS - {Command.DOWN}


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        ("h\n", {Command.HUP}),
        ("d", {Command.DOWN}),
        ("dpc haitkq12wy\n", set(GROUP_COMMANDS)),
        ("hh", {Command.HUP}),
    ],
)
def test_letters_named(text: str, commands: set[Command]) -> None:
    """Letters (whitespace ignored): exactly the commands named."""
    assert parse_group(text) == commands


@pytest.mark.parametrize("text", ["u", "x", "hX", "yes", "+h", "l"])
def test_other_letters_are_garbage(text: str) -> None:
    """u o x and anything else signal nothing: the file is garbage (said; default used)."""
    with pytest.raises(SettingError, match="not a letter of"):
        parse_group(text)

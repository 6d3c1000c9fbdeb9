"""svlog's whole-block selection: regular expressions that match what match.c matches.

`Pattern` (the per-line matcher) is itself checked against a transliteration of
match.c (test_svlog_pattern.py); the regular expressions must pick exactly the lines
it picks, in any block of lines, and `Selection` must give each directory and ``e``
what multilog's actions in order give them.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svlog.lines import HEAD
from svlog.pattern import Pattern
from svlog.script import parse
from svlog.selection import Selection, pattern_regex


def split(argv: list[str], block: bytes) -> tuple[list[bytes], list[bytes]]:
    picked = Selection(parse(argv)).split(block, HEAD)
    assert picked is not None
    return picked


ALPHABET = st.sampled_from(b"ab*c \\^$.[]-")


def picked(pattern: bytes, lines: list[bytes], include: bool = True) -> list[int]:
    """Indexes of the lines a directory gets after ``-* +pattern`` (or ``-pattern``)."""
    block = b"".join(line + b"\n" for line in lines)
    text = pattern.decode("utf-8", "surrogateescape")
    argv = ["-*", "+" + text, "./a"] if include else ["-" + text, "./a"]
    (kept,), _ = split(argv, block)
    got = kept.split(b"\n")[:-1]
    indexes, at = [], 0
    for i, line in enumerate(lines):  # kept lines are a subsequence of lines, in order
        if at < len(got) and got[at] == line:
            indexes.append(i)
            at += 1
    assert at == len(got)
    return indexes


@settings(max_examples=800, deadline=None)
@given(st.lists(ALPHABET, max_size=7).map(bytes),
       st.lists(st.lists(ALPHABET, max_size=10).map(bytes), min_size=1, max_size=6))
def test_regex_picks_what_match_c_matches(pattern: bytes, lines: list[bytes]) -> None:
    matching = [i for i, line in enumerate(lines) if Pattern(pattern).matches(line)]
    assert picked(pattern, lines) == matching
    assert picked(pattern, lines, include=False) == [
        i for i in range(len(lines)) if i not in matching
    ]


@given(st.binary(max_size=8), st.lists(st.binary(max_size=20).map(
    lambda b: b.replace(b"\n", b"")), min_size=1, max_size=5))
def test_regex_on_any_bytes(pattern: bytes, lines: list[bytes]) -> None:
    lines = list(dict.fromkeys(lines))  # distinct, so that `picked` can tell them apart
    expected = [i for i, line in enumerate(lines) if Pattern(pattern).matches(line)]
    assert picked(pattern, lines) == expected


@pytest.mark.parametrize("pattern", [b"a\nb", b"*\n", b"\n*"])
def test_a_newline_in_a_pattern_matches_nothing(pattern: bytes) -> None:
    assert pattern_regex(pattern) is None
    assert not Pattern(pattern).matches(b"a")


def test_empty_pattern() -> None:
    """An empty pattern matches empty lines only."""
    assert picked(b"", [b"x", b"", b"y"]) == [1]
    assert picked(b"", [b"x"]) == []


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["-*", "+a*", "-*b", "+c*", "./d"], [b"a", b"c", b"ca"]),
        (["-a*", "+*b", "./d"], [b"ab", b"c", b"ca", b"b"]),
        (["+a*", "./d"], [b"a", b"ab", b"c", b"ca", b"b"]),
        (["-*", "-a*", "./d"], []),
        (["-*", "+*", "./d"], [b"a", b"ab", b"c", b"ca", b"b"]),
        (["-*a\nb*", "./d"], [b"a", b"ab", b"c", b"ca", b"b"]),
    ],
)
def test_conditions_fold_in_script_order(argv: list[str], kept: list[bytes]) -> None:
    lines = [b"a", b"ab", b"c", b"ca", b"b"]
    block = b"".join(line + b"\n" for line in lines)
    (got,), _ = split(argv, block)
    assert got == b"".join(line + b"\n" for line in kept)


def test_selection_in_script_order() -> None:
    block = b"keep a\ndrop b\nkeep c\n"
    chosen, errors = split(["-*", "+keep*", "./kept", "e", "-*c", "./most", "+*", "./all"], block)
    assert chosen == [b"keep a\nkeep c\n", b"keep a\n", block]
    assert errors == [b"keep a\nkeep c\n"]


def test_stderr_cuts_long_lines() -> None:
    line = b"x" * 250
    assert split(["e"], line + b"\nshort\n")[1] == [
        line[:200] + b"...\nshort\n"
    ]


def test_a_line_longer_than_a_head_needs_the_per_line_path() -> None:
    """multilog matches the first 1000 bytes only; without a pattern, length is no matter."""
    block = b"y" * 1001 + b"\nx\n"
    assert Selection(parse(["-*x*", "./a"])).split(block, HEAD) is None
    assert Selection(parse(["-*", "./a", "e", "+*", "./b"])).split(block, HEAD) == (
        [b"", block], [b""]
    )

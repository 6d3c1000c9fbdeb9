"""svlog's script: multilog's actions read from argv, golden tables both ways.

The numbers are multilog's (multilog.c, c_init): ``s`` clamped to 4096..16777215
(default 99999), ``n`` at least 2 (default 10), each applying to the directories named
after it. What multilog silently ignores, svlog refuses with one line naming it.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svlog.script import (
    DEFAULT_NUM,
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_NUM,
    MIN_SIZE,
    Directory,
    Script,
    ScriptError,
    Select,
    Stderr,
    parse,
)

GOLDEN: list[tuple[list[str], Script]] = [
    ([], Script(False, ())),
    (["t"], Script(True, ())),
    (["./main"], Script(False, (Directory("./main", DEFAULT_SIZE, DEFAULT_NUM),))),
    (["t", "./main"], Script(True, (Directory("./main", 99999, 10),))),
    (["t", "s1000000", "n20", "./main"], Script(True, (Directory("./main", 1000000, 20),))),
    (["/var/log/x"], Script(False, (Directory("/var/log/x"),))),
    (["../up"], Script(False, (Directory("../up"),))),
    # s and n apply to the directories after them, and stay in force
    (
        ["s5000", "./a", "n3", "./b", "s6000", "./c"],
        Script(False, (Directory("./a", 5000, 10), Directory("./b", 5000, 3),
                       Directory("./c", 6000, 3))),
    ),
    # clamps
    (["s1", "n0", "./a"], Script(False, (Directory("./a", MIN_SIZE, MIN_NUM),))),
    (["s99999999999", "n1", "./a"], Script(False, (Directory("./a", MAX_SIZE, MIN_NUM),))),
    (["s4096", "n2", "./a"], Script(False, (Directory("./a", 4096, 2),))),
    (["s16777215", "./a"], Script(False, (Directory("./a", 16777215, 10),))),
    # selection and stderr, in order
    (
        ["t", "-*", "+@* fatal: *", "e", "./main"],
        Script(True, (Select(False, b"*"), Select(True, b"@* fatal: *"), Stderr(),
                      Directory("./main"))),
    ),
    (["+", "-"], Script(False, (Select(True, b""), Select(False, b"")))),
    (["+t", "-s1"], Script(False, (Select(True, b"t"), Select(False, b"s1")))),
    (["+caf\u00e9"], Script(False, (Select(True, "caf\u00e9".encode()),))),
    (["e", "e"], Script(False, (Stderr(), Stderr()))),
]


@pytest.mark.parametrize(("argv", "script"), GOLDEN)
def test_parse_golden(argv: list[str], script: Script) -> None:
    assert parse(argv) == script


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["x"], ["unknown action 'x'"]),
        (["./a", "t"], ["t must be the first action"]),
        (["t", "t"], ["t must be the first action"]),
        (["tt"], ["unknown action 'tt'"]),
        (["exit"], ["unknown action 'exit'"]),
        ([""], ["unknown action ''"]),
        (["s"], ["'s': s must be followed by a size in bytes"]),
        (["s12k"], ["'s12k'"]),
        (["s-1"], ["'s-1'"]),
        (["s\u00b2"], ["'s\u00b2'"]),  # a digit to str.isdigit, not to multilog
        (["n"], ["'n': n must be followed by a number of files"]),
        (["n 3"], ["'n 3'"]),
        (["!gzip"], ["processors are not supported: '!gzip'"]),
        (["=status"], ["status files are not supported: '=status'"]),
    ],
)
def test_parse_refuses_naming_the_argument(argv: list[str], words: list[str]) -> None:
    """One clear line naming the argument; multilog would ignore it silently."""
    with pytest.raises(ScriptError) as raised:
        parse(argv)
    text = str(raised.value)
    assert "\n" not in text
    for word in words:
        assert word in text


def test_simple_means_only_directories() -> None:
    """The fast path applies when every line goes to every directory and nowhere else."""
    assert parse(["t", "./a", "s5000", "./b"]).simple
    assert parse([]).simple
    assert not parse(["e", "./a"]).simple
    assert not parse(["+*", "./a"]).simple
    assert parse(["./a", "n3", "./b"]).directories == (Directory("./a"), Directory("./b", num=3))


@given(st.integers(min_value=0, max_value=10**30))
def test_size_clamp(number: int) -> None:
    size = parse([f"s{number}", "./a"]).directories[0].size
    assert size == min(max(number, 4096), 16777215)


@given(st.integers(min_value=0, max_value=10**30))
def test_num_clamp(number: int) -> None:
    assert parse([f"n{number}", "./a"]).directories[0].num == max(number, 2)


def test_values_compare_and_print() -> None:
    assert Directory("./a") == Directory("./a", 99999, 10)
    assert Directory("./a") != Directory("./b")
    assert Select(True, b"x") != Select(False, b"x")
    assert Stderr() == Stderr()
    assert Stderr() != Directory("./a")
    assert len({Directory("./a"), Directory("./a")}) == 1
    assert repr(Directory("./a", 5000, 3)) == "Directory(path='./a', size=5000, num=3)"

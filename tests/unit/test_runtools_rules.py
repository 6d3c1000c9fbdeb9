"""The run-script tools' pure rules: envdir's value of a file, softlimit's new soft limit,
and sgetopt's reading of options (shared by every client and tool).

Golden tables from daemontools' sources (envdir.c, softlimit.c, sgetopt.c): what
the C tools do with the same bytes is what these functions must return.
"""

from __future__ import annotations

import os
import resource

import pytest

from cmdline import out
from cmdline.getopt import getopt
from cmdline.out import Usage
from runtools import envdir, softlimit

INFINITY = resource.RLIM_INFINITY

# ---------------------------------------------------------------- envdir.value_of


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"", None),  # empty file: remove the variable
        (b"value\n", "value"),
        (b"value", "value"),  # no final newline
        (b"first\nsecond\nthird\n", "first"),  # first line only
        (b"trail \t \t\n", "trail"),  # trailing spaces and tabs removed
        (b"trail \t \t", "trail"),
        (b"  lead\n", "  lead"),  # leading blanks kept
        (b"a \t b\n", "a \t b"),  # inner blanks kept
        (b"\n", ""),  # an empty first line sets the variable to ""
        (b"\nsecond\n", ""),
        (b" \t \n", ""),
        (b"a\0b\n", "a\nb"),  # NUL becomes newline
        (b"a\0\0b", "a\n\nb"),
        (b"\0\n", "\n"),
        (b"x\0 \n", "x\n"),  # trailing blanks go first, then NULs become newlines
        (b"x \0\n", "x \n"),  # a NUL is not a blank: the space before it stays
        (b"cr\r\n", "cr\r"),  # only newline ends the line
        (b"a=b=c\n", "a=b=c"),
        ("h\u00e9llo\n".encode(), "h\u00e9llo"),
        (b"x" * 5000 + b"\nmore", "x" * 5000),  # no length limit on the first line
    ],
)
def test_value_of_golden(data: bytes, value: str | None) -> None:
    """daemontools' envdir rules, byte for byte."""
    assert envdir.value_of(data) == value


def test_value_of_keeps_undecodable_bytes() -> None:
    """Bytes that are not UTF-8 survive to the environment unchanged (surrogateescape)."""
    value = envdir.value_of(b"\xff\xfe  \n")
    assert value is not None
    assert os.fsencode(value) == b"\xff\xfe"


# ---------------------------------------------------------------- softlimit.soft_limit


@pytest.mark.parametrize(
    ("value", "hard", "soft"),
    [
        ("1000", INFINITY, 1000),
        ("0", INFINITY, 0),
        ("0", 5, 0),
        ("00017", 100, 17),  # leading zeros are digits
        ("4096", 4096, 4096),
        ("4097", 4096, 4096),  # above the hard limit: the hard limit
        ("99999", 4096, 4096),
        ("=", 4096, 4096),
        ("=", 0, 0),
        ("=", INFINITY, INFINITY),
        (str(2**64 - 2), INFINITY, 2**64 - 2),  # every number is below unlimited
        (str(2**64 - 1), INFINITY, INFINITY),  # RLIM_INFINITY itself is unlimited
        (str(2**64 - 1), 1000, 1000),
        (str(2**63), 2**40, 2**40),
    ],
)
def test_soft_limit_golden(value: str, hard: int, soft: int) -> None:
    """A number (at most the hard limit), or ``=`` for the hard limit; unlimited is -1."""
    assert softlimit.soft_limit(value, hard) == soft


@pytest.mark.parametrize(
    "value", ["12x", "x", "-1", "+5", "1.5", " 5", "5 ", "=5", "==", "1e3", "0x10",
              "\u0663", "\uff15"],
)
@pytest.mark.parametrize("hard", [INFINITY, 4096])
def test_soft_limit_bad_value_is_usage(value: str, hard: int) -> None:
    """Anything but ASCII digits or ``=`` is softlimit's usage error (exit 100)."""
    with pytest.raises(Usage) as caught:
        softlimit.soft_limit(value, hard)
    assert caught.value.code == 100
    assert caught.value.line() == softlimit.USAGE


def test_soft_limit_empty_value_is_zero() -> None:
    """An empty value is 0, as daemontools' scan_ulong reads it (``softlimit -c '' ...``)."""
    assert softlimit.soft_limit("", INFINITY) == 0


def test_resources_of_each_option() -> None:
    """Each option sets its resource; -m sets data, stack, locked memory and address space."""
    assert softlimit.RESOURCES["m"] == (
        resource.RLIMIT_DATA, resource.RLIMIT_STACK, resource.RLIMIT_MEMLOCK, resource.RLIMIT_AS
    )
    assert sorted(softlimit.RESOURCES) == list("acdflmoprst")
    assert softlimit.RESOURCES["o"] == (resource.RLIMIT_NOFILE,)
    assert softlimit.RESOURCES["t"] == (resource.RLIMIT_CPU,)


# ---------------------------------------------------------------- cmdline.getopt.getopt

USAGE = "prog: usage: prog [-ab] [-T n] rest"


@pytest.fixture
def prog() -> None:
    """The messages of the tests below come from a program called ``prog``."""
    out.begin("prog")


@pytest.mark.parametrize(
    ("argv", "options", "rest"),
    [
        ([], [], []),
        (["x"], [], ["x"]),
        (["-a", "x"], [("a", "")], ["x"]),
        (["-ab", "x"], [("a", ""), ("b", "")], ["x"]),  # a cluster
        (["-a", "-b", "-a", "x"], [("a", ""), ("b", ""), ("a", "")], ["x"]),  # order, repeats
        (["-T500", "x"], [("T", "500")], ["x"]),  # value joined
        (["-T", "500", "x"], [("T", "500")], ["x"]),  # value separate
        (["-aT5", "x"], [("a", ""), ("T", "5")], ["x"]),  # value ends a cluster
        (["-aT", "5", "x"], [("a", ""), ("T", "5")], ["x"]),
        (["-Tab"], [("T", "ab")], []),  # letters after T are its value
        (["-T", "-a", "x"], [("T", "-a")], ["x"]),  # a separate value may start with -
        (["-T", "--"], [("T", "--")], []),
        (["-T", ""], [("T", "")], []),
        (["-T="], [("T", "=")], []),
        (["-a", "--", "-b"], [("a", "")], ["-b"]),  # -- ends the options and goes
        (["--", "--"], [], ["--"]),
        (["-a", "-", "-b"], [("a", "")], ["-", "-b"]),  # - ends the options and stays
        (["x", "-a"], [], ["x", "-a"]),  # the first non-option ends the options
        (["-a", "x", "-b"], [("a", "")], ["x", "-b"]),
        (["", "-a"], [], ["", "-a"]),  # an empty argument is not an option
    ],
)
def test_getopt_golden(argv: list[str], options: list[tuple[str, str]], rest: list[str]) -> None:
    """Clusters, joined and separate values, ``--``, ``-`` and the first non-option."""
    assert getopt(argv, "ab", "T", USAGE) == (options, rest)


@pytest.mark.parametrize(
    ("argv", "first"),
    [
        (["-z"], "prog: illegal option -- z"),
        (["-az", "x"], "prog: illegal option -- z"),  # after a good letter in a cluster
        (["-a", "-z", "x"], "prog: illegal option -- z"),
        (["-A"], "prog: illegal option -- A"),  # letters are case-sensitive
        (["-T"], "prog: option requires an argument -- T"),
        (["-aT"], "prog: option requires an argument -- T"),
        (["-a", "-T"], "prog: option requires an argument -- T"),
    ],
)
@pytest.mark.usefixtures("prog")
def test_getopt_errors(argv: list[str], first: str) -> None:
    """sgetopt's own line (under the program's name), then the caller's usage line; exit 100."""
    with pytest.raises(Usage) as caught:
        getopt(argv, "ab", "T", USAGE)
    assert caught.value.code == 100
    assert caught.value.line() == f"{first}\n{USAGE}"


def test_getopt_softlimit_letters_all_take_values() -> None:
    """softlimit declares only valued letters: every letter of it takes a value."""
    options, rest = getopt(["-c0", "-o", "5", "-t=", "cat"], "", "acdflmoprst", softlimit.USAGE)
    assert (options, rest) == ([("c", "0"), ("o", "5"), ("t", "=")], ["cat"])

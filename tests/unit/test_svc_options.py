"""svc's command line, parsed as daemontools' svc parses it (djb's sgetopt), plus -w and -T.

Letters are collected in order with duplicates dropped (at most 20); clusters,
``--``, ``-`` and the first non-option end the options as getopt(3) does; a
bad option gives daemontools' two lines (``svc: illegal option -- Z`` and the
list of options, as Debian's /usr/bin/svc prints them) and exit 100.
"""

from __future__ import annotations

import pytest

from cmdline import out
from cmdline.out import Usage
from supervise import alphabet, control
from svc import svc
from svc.svc import LETTERS, MAX_LETTERS, parse

DAEMONTOOLS_LINE_2 = (
    "svc options: u up, d down, o once, x exit, p pause, c continue, h hup, a alarm,"
    " i interrupt, t term, k kill"
)


@pytest.mark.parametrize(
    ("argv", "data", "directories"),
    [
        ([], b"", []),
        (["svc1"], b"", ["svc1"]),
        (["-u", "svc1"], b"u", ["svc1"]),
        (["-d", "-u", "-x", "a", "b"], b"dux", ["a", "b"]),
        (["-udx", "a"], b"udx", ["a"]),
        (["-du", "-ud", "a"], b"du", ["a"]),
        (["-uuuu", "-u", "a"], b"u", ["a"]),
        (["-tcu", "-k", "-t", "a"], b"tcuk", ["a"]),
        (["-q12y", "a"], b"q12y", ["a"]),
        # "--" ends the options and is not a directory
        (["-u", "--", "-d"], b"u", ["-d"]),
        (["--", "--"], b"", ["--"]),
        # "-" ends the options and is a directory, as is everything after it
        (["-u", "-", "-d"], b"u", ["-", "-d"]),
        # the first non-option ends the options: a later "-u" is a directory
        (["-u", "svc1", "-d"], b"u", ["svc1", "-d"]),
        (["svc1", "-u"], b"", ["svc1", "-u"]),
        # sgetopt takes any argument starting with "--" as "--" (Debian's svc: `svc --u a`
        # controls a, and `svc --version` is svc with no directory, exit 0)
        (["-u", "--u", "-d"], b"u", ["-d"]),
        (["--version"], b"", []),
    ],
)
def test_letters_and_directories(argv: list[str], data: bytes, directories: list[str]) -> None:
    """Letters in first-seen order without duplicates; the rest are directories."""
    options = parse(argv)
    assert options.data == data
    assert options.directories == directories
    assert (options.wait, options.deadline_ms) == ("", 0)


def test_every_letter_once_in_order() -> None:
    """All letters, repeated many times, are sent once each in first-seen order, at most 20."""
    reversed_letters = LETTERS[::-1]
    options = parse(["-" + reversed_letters * 3, "-" + LETTERS, "a"])
    assert options.data == reversed_letters.encode()
    assert len(options.data) <= MAX_LETTERS == 20


@pytest.mark.parametrize(
    ("argv", "wait", "deadline_ms", "data", "directories"),
    [
        (["-wu", "a"], "u", 0, b"", ["a"]),
        (["-w", "u", "a"], "u", 0, b"", ["a"]),
        (["-uwU", "a"], "U", 0, b"u", ["a"]),
        (["-d", "-wD", "a"], "D", 0, b"d", ["a"]),
        (["-t", "-wr", "-T", "500", "a"], "r", 500, b"t", ["a"]),
        (["-T500", "-wR", "a"], "R", 500, b"", ["a"]),
        (["-dT", "250", "a"], "", 250, b"d", ["a"]),
        (["-wd", "-wu", "a"], "u", 0, b"", ["a"]),
        (["-T", "0", "a"], "", 0, b"", ["a"]),
        (["-T", "007", "a"], "", 7, b"", ["a"]),
        # the value of -w/-T is the next argument even if it looks like an option
        (["-w", "d", "-u", "a"], "d", 0, b"u", ["a"]),
    ],
)
def test_wait_and_deadline(
    argv: list[str], wait: str, deadline_ms: int, data: bytes, directories: list[str]
) -> None:
    """-wX and -w X, -T ms and -Tms, alone or ending a cluster."""
    options = parse(argv)
    assert (options.wait, options.deadline_ms) == (wait, deadline_ms)
    assert options.data == data
    assert options.directories == directories


def _usage_lines(argv: list[str]) -> list[str]:
    out.begin("svc")  # what svc.main does before it parses
    with pytest.raises(Usage) as caught:
        parse(argv)
    assert caught.value.code == 100
    return caught.value.text.split("\n")


@pytest.mark.parametrize(
    ("argv", "letter"),
    [
        (["-Z", "a"], "Z"),
        (["-uZ", "a"], "Z"),
        (["-u", "-dZx", "a"], "Z"),
        (["-r", "a"], "r"),  # s6's letter, not ours
        (["-U", "a"], "U"),
    ],
)
def test_illegal_letter(argv: list[str], letter: str) -> None:
    """An illegal letter: daemontools' two lines exactly, then ours, exit 100."""
    lines = _usage_lines(argv)
    assert lines[0] == f"svc: illegal option -- {letter}"
    assert lines[1] == DAEMONTOOLS_LINE_2


@pytest.mark.parametrize("argv", [["-w"], ["-u", "-w"], ["-T"], ["-dT"]])
def test_missing_argument(argv: list[str]) -> None:
    """-w or -T as the last argument: a usage error naming the option, exit 100."""
    lines = _usage_lines(argv)
    assert lines[0] == f"svc: option requires an argument -- {argv[-1][-1]}"
    assert lines[1] == DAEMONTOOLS_LINE_2


@pytest.mark.parametrize("value", ["x", "ud", "uu", "k", "", "-u", "0"])
def test_bad_wait_letter(value: str) -> None:
    """-w takes exactly one of u U d D E r R."""
    lines = _usage_lines(["-w", value, "a"])
    assert lines[0].startswith("svc: -w takes one of u U d D E r R")
    assert repr(value) in lines[0]
    assert lines[1] == DAEMONTOOLS_LINE_2


@pytest.mark.parametrize("value", ["abc", "-5", "", "5s", "1.5", " 5", "+5", "²"])
def test_bad_deadline(value: str) -> None:
    """-T takes a whole number of milliseconds; anything else is a usage error, exit 100.

    "²" (superscript two) passes str.isdigit() but int() refuses it: it must still
    be svc's usage error, not a traceback.
    """
    lines = _usage_lines(["-T", value, "a"])
    assert lines[0].startswith("svc: -T takes milliseconds")
    assert lines[1] == DAEMONTOOLS_LINE_2


def test_usage_text_names_the_extras() -> None:
    """After daemontools' two lines comes one line on what only our svc takes."""
    lines = _usage_lines(["-Z"])
    assert len(lines) == 3
    assert lines[2] == svc.MORE_OPTIONS
    assert "-wu" in lines[2] and "-T ms" in lines[2]


def test_main_usage_exit(capsys: pytest.CaptureFixture[str]) -> None:
    """main() prints the usage text to stderr only, and exits 100 before touching any dir."""
    assert svc.main(["-Z", "nonexistent-dir"]) == 100
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.split("\n")
    assert lines[:2] == ["svc: illegal option -- Z", DAEMONTOOLS_LINE_2]


# --- every letter means something to the daemon ---------------------------------------------


def test_letters_are_the_alphabets_but_encores_w() -> None:
    """svc's option letters come from the one control alphabet: all of it but ``w``."""
    assert set(LETTERS) == {letter.decode() for letter in alphabet.LETTERS} - {"w"}
    assert [command.value for command in control.Command] == list(alphabet.LETTERS)


@pytest.mark.parametrize("letter", list(LETTERS))
def test_daemon_understands_every_letter(letter: str) -> None:
    """Each byte svc can send is one command to supervise.control (none is silently dropped)."""
    commands = control.parse(letter.encode())
    assert len(commands) == 1
    assert commands[0].value == letter.encode()


def test_letters_are_distinct_and_cover_daemontools() -> None:
    """svc sends every daemontools letter; -w is kept for waiting, so WINCH is -y."""
    assert len(set(LETTERS)) == len(LETTERS) <= MAX_LETTERS
    assert set("udopchaitkx") <= set(LETTERS)
    assert "w" not in LETTERS and "T" not in LETTERS


def test_parsed_bytes_reach_the_daemon_in_order() -> None:
    """What parse() collects is what control.parse() reads back, letter for letter."""
    options = parse(["-dx", "-tcu", "-1", "a"])
    assert control.encode(control.parse(options.data)) == options.data == b"dxtcu1"


# --- encore's selectors: -+ -= -L -l --------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "data", "log_parts"),
    [
        # a part with + or = ends with l: whatever another client writes next is not the group's
        (["-+", "-h", "a"], b"+hl", []),
        (["-+h=t", "a"], b"+h=tl", []),
        (["-l", "-h", "a"], b"h", []),
        # duplicates are dropped within a part, as encore drops them
        (["-+", "-h", "-=", "-h", "a"], b"+h=l", []),
        (["-+", "-h", "-l", "-h", "a"], b"+hlhl", []),
        # -L: the log's parts apart; the main service's parts joined by l
        (["-L", "-h", "a"], b"", ["h"]),
        (["-+", "-t", "-L", "-+", "-h", "-l", "-d", "a"], b"+tldl", ["+h"]),
        (["-L", "-h", "-l", "-L", "-t", "a"], b"", ["h", "t"]),
        # selectors without a letter after them say nothing
        (["-+", "-L", "-=", "a"], b"", []),
    ],
)
def test_selectors(argv: list[str], data: bytes, log_parts: list[str]) -> None:
    """What goes to DIR and what to its log service."""
    options = parse(argv)
    assert options.data == data
    assert options.log_parts == log_parts


def test_selectors_count_towards_the_twenty() -> None:
    """Letters past the 20th are dropped, selectors counted: a late -L cannot redirect them."""
    assert len(LETTERS) + 5 == MAX_LETTERS
    options = parse(["-" + LETTERS, "-+=", "-l", "-+=", "-L", "-d", "a"])
    assert options.data == LETTERS.encode() + b"+=l"
    assert options.log_parts == []


@pytest.mark.parametrize(
    ("argv", "routed"),
    [
        (["-+", "-h", "-=", "-t", "a"],
         ((control.Command.HUP, True), (control.Command.TERM, False))),
        (["-+", "-h", "-l", "-t", "a"],
         ((control.Command.HUP, True), (control.Command.TERM, None))),
    ],
)
def test_selectors_reach_the_daemon(argv: list[str], routed: object) -> None:
    """What svc writes, the daemon routes as meant."""
    assert control.route(parse(argv).data).commands == routed

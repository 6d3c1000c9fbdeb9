"""svstat's texts: daemontools' line, our extras after it, -o fields, and its options.

Views are built directly (no files, no processes): `status` from the bytes of a
record via record.unpack, `extra` via record.unpack_extra, errors via
View.failed. `now` is fixed so every "N seconds" is exact. The expected
daemontools lines are those Debian's /usr/bin/svstat prints for the same records.
"""

from __future__ import annotations

import pytest

from cmdline.out import Usage
from supervise import record as records
from supervise.layout import (
    BACKOFF,
    EXITED,
    FAILED,
    FINISHING,
    NOTIFY,
    READY,
    STATE_DOWN,
    STATE_FINISH,
    STATE_RUN,
    TAI64_EPOCH,
    WANT_DOWN,
    WANT_ONCE,
    WANT_UP,
)
from supervise.tai import Tai64n
from svc import svstat, view
from svc.svstat import FIELDS, USAGE, classic, extras, field_text, parse
from svc.view import View

#: The stamp of daemontools' "up" status dump, and the Unix second it labels.
LABEL = 0x400000006B01D5B5
NANOS = 0x3726B4AC
UNIX = LABEL - TAI64_EPOCH
NOW = UNIX + 2.25  # "2 seconds" after every stamp below
READY_LABEL = LABEL + 1  # became ready a second after it started: "ready 1 seconds"


def record(
    pid: int = 0,
    paused: bool = False,
    want: int = WANT_UP,
    term: bool = False,
    state: int | None = None,
    label: int = LABEL,
) -> bytes:
    """The bytes of a status record: 18 (daemontools) when `state` is None, else 20."""
    return records.pack(records.Status(Tai64n(label, NANOS), pid, paused, want, term, state))


def make(
    data: bytes,
    normally_up: bool = True,
    flags: int | None = None,
    ready: tuple[int, int] | None = None,
    code: int = 0,
    signum: int = 0,
) -> View:
    """A View of `data`, with our xstatus read back from its bytes when `flags` is given."""
    v = View()
    v.record = data
    v.status = records.unpack(data)
    v.normally_up = normally_up
    if flags is not None:
        stamp = None if ready is None else Tai64n(*ready)
        extra = records.Extra(flags, stamp, code, signum)
        v.extra = records.unpack_extra(records.pack_extra(extra, data))
    return v


def ours(
    pid: int,
    state: int,
    flags: int,
    *,
    want: int = WANT_UP,
    ready: tuple[int, int] | None = None,
    code: int = 0,
    signum: int = 0,
) -> View:
    """A View of our own 20-byte record with an xstatus written with it."""
    data = record(pid, want=want, state=state)
    return make(data, flags=flags, ready=ready, code=code, signum=signum)


# --- daemontools' line ------------------------------------------------------------------

CLASSIC: list[tuple[str, View, str]] = [
    ("up", make(record(383)), "up (pid 383) 2 seconds"),
    ("up, normally down", make(record(383), normally_up=False),
     "up (pid 383) 2 seconds, normally down"),
    ("up, paused", make(record(383, paused=True)), "up (pid 383) 2 seconds, paused"),
    ("up, want down", make(record(383, want=WANT_DOWN)), "up (pid 383) 2 seconds, want down"),
    ("up, all suffixes in svstat.c's order",
     make(record(383, paused=True, want=WANT_DOWN), normally_up=False),
     "up (pid 383) 2 seconds, normally down, paused, want down"),
    ("up after o: want byte 0 says nothing", make(record(1040, want=WANT_ONCE)),
     "up (pid 1040) 2 seconds"),
    ("up, want up is not said", make(record(383, want=WANT_UP)), "up (pid 383) 2 seconds"),
    ("down, normally up", make(record(0, want=WANT_DOWN)), "down 2 seconds, normally up"),
    ("down with down file", make(record(0, want=WANT_DOWN), normally_up=False),
     "down 2 seconds"),
    ("down, want up", make(record(0, want=WANT_UP), normally_up=False),
     "down 2 seconds, want up"),
    ("down, normally up, want up", make(record(0, want=WANT_UP)),
     "down 2 seconds, normally up, want up"),
    ("down after o: no want", make(record(0, want=WANT_ONCE)), "down 2 seconds, normally up"),
    ("down: paused byte not shown (runit keeps it when down)",
     make(record(0, paused=True, want=WANT_DOWN, state=STATE_DOWN)),
     "down 2 seconds, normally up"),
    ("runit run, 20 bytes", make(record(18428, state=STATE_RUN)), "up (pid 18428) 2 seconds"),
    ("runit finish shows the finish pid as up",
     make(record(20500, want=WANT_DOWN, state=STATE_FINISH)),
     "up (pid 20500) 2 seconds, want down"),
    ("runit got TERM is not daemontools' to say",
     make(record(18428, want=WANT_DOWN, term=True, state=STATE_RUN)),
     "up (pid 18428) 2 seconds, want down"),
]


@pytest.mark.parametrize(("name", "v", "text"), CLASSIC, ids=[c[0] for c in CLASSIC])
def test_classic(name: str, v: View, text: str) -> None:
    """classic() prints daemontools' svstat line for the record, suffixes in fixed order."""
    assert classic(v, NOW) == text


@pytest.mark.parametrize(
    "text",
    [
        "supervise not running",
        "unable to chdir: file does not exist",
        "unable to stat down: access denied",
        "unable to open supervise/ok: file does not exist",
        "unable to open supervise/status: access denied",
        "unable to read supervise/status: bad format",
    ],
)
def test_classic_error_passes_through(text: str) -> None:
    """An unreadable directory prints svstat's error text unchanged, with no extras."""
    v = View().failed(view.UNREADABLE, text)
    assert classic(v, NOW) == text
    assert extras(v, NOW) == ""


@pytest.mark.parametrize(
    ("now", "seconds"),
    [(UNIX, 0), (UNIX + 0.999, 0), (UNIX + 1, 1), (UNIX + 61.5, 61), (UNIX - 30, 0)],
)
def test_classic_seconds(now: float, seconds: int) -> None:
    """N counts whole seconds from the stamp's label, and 0 for a stamp in the future."""
    assert classic(make(record(383)), now) == f"up (pid 383) {seconds} seconds"
    assert classic(make(record(0)), now) == f"down {seconds} seconds, normally up, want up"


@pytest.mark.parametrize("paused", [False, True])
@pytest.mark.parametrize("want", [WANT_UP, WANT_DOWN, WANT_ONCE])
@pytest.mark.parametrize("pid", [0, 7])
@pytest.mark.parametrize("normally_up", [False, True])
def test_classic_suffix_rules(paused: bool, want: int, pid: int, normally_up: bool) -> None:
    """paused only with a pid; want up only when down; want down only when up; order fixed."""
    text = classic(make(record(pid, paused, want), normally_up=normally_up), NOW)
    assert ("paused" in text) == (paused and pid != 0)
    assert ("want up" in text) == (want == WANT_UP and pid == 0)
    assert ("want down" in text) == (want == WANT_DOWN and pid != 0)
    assert ("normally down" in text) == (pid != 0 and not normally_up)
    assert ("normally up" in text) == (pid == 0 and normally_up)
    order = ["normally", "paused", "want"]
    found = [text.index(word) for word in order if word in text]
    assert found == sorted(found)


# --- our extras ---------------------------------------------------------------------------

EXTRAS: list[tuple[str, View, str]] = [
    ("daemontools record: nothing", make(record(383)), ""),
    ("runit finish without xstatus: nothing",
     make(record(20500, want=WANT_DOWN, state=STATE_FINISH)), ""),
    ("ours, plain up: nothing", ours(383, STATE_RUN, 0), ""),
    ("ready with NOTIFY+READY",
     ours(383, STATE_RUN, NOTIFY | READY, ready=(READY_LABEL, 5)), ", ready 1 seconds"),
    ("NOTIFY without READY: not ready yet", ours(383, STATE_RUN, NOTIFY), ""),
    ("READY without NOTIFY: up means ready, not said",
     ours(383, STATE_RUN, READY, ready=(READY_LABEL, 5)), ""),
    ("ready flag left while down: not said",
     ours(0, STATE_DOWN, NOTIFY | READY, ready=(READY_LABEL, 5)), ""),
    ("finish running (state 2)", ours(20500, STATE_FINISH, 0), ", running finish"),
    ("finish running (flag)", ours(0, STATE_DOWN, FINISHING), ", running finish"),
    ("failed permanently", ours(0, STATE_DOWN, FAILED), ", failed permanently"),
    ("exited 0 while down", ours(0, STATE_DOWN, EXITED, code=0), ", exited 0"),
    ("exited 111 while down", ours(0, STATE_DOWN, EXITED, code=111), ", exited 111"),
    ("killed by SIGTERM while down", ours(0, STATE_DOWN, EXITED, signum=15),
     ", killed by SIGTERM"),
    ("killed by SIGKILL while down", ours(0, STATE_DOWN, EXITED, signum=9),
     ", killed by SIGKILL"),
    ("unknown signal number", ours(0, STATE_DOWN, EXITED, signum=99), ", killed by SIG99"),
    ("exit not said while up", ours(383, STATE_RUN, EXITED, code=3), ""),
    ("exit not said without EXITED", ours(0, STATE_DOWN, 0, code=3, signum=15), ""),
    ("failed, finish done, exited 125: order ready/finish/failed/exit",
     ours(0, STATE_DOWN, FAILED | EXITED | FINISHING, code=125),
     ", running finish, failed permanently, exited 125"),
    ("ready, up, with a stale exit: only ready",
     ours(383, STATE_RUN, NOTIFY | READY | EXITED, ready=(READY_LABEL, 5), code=1),
     ", ready 1 seconds"),
]


@pytest.mark.parametrize(("name", "v", "text"), EXTRAS, ids=[c[0] for c in EXTRAS])
def test_extras(name: str, v: View, text: str) -> None:
    """extras() says only what applies, in a fixed order, and nothing without an xstatus."""
    assert extras(v, NOW) == text


def test_extras_ready_without_stamp_counts_from_up() -> None:
    """NOTIFY+READY with no readiness stamp counts ready seconds from the up stamp."""
    assert extras(ours(383, STATE_RUN, NOTIFY | READY), NOW) == ", ready 2 seconds"


def test_extras_ready_in_the_future_is_zero() -> None:
    """A readiness stamp later than `now` prints 0 seconds, like svstat's clamp."""
    v = ours(383, STATE_RUN, NOTIFY | READY, ready=(LABEL + 100, 0))
    assert extras(v, NOW) == ", ready 0 seconds"


def backing_off(until: int, flags: int = BACKOFF | EXITED, pid: int = 0) -> View:
    """Our record of a service down after ./run exited 1, its restart held until `until`."""
    data = record(pid, state=STATE_RUN if pid else STATE_DOWN)
    v = make(data)
    extra = records.Extra(flags, None, 1, 0, Tai64n(until, 0))
    v.extra = records.unpack_extra(records.pack_extra(extra, data))
    return v


@pytest.mark.parametrize(
    ("until", "left"), [(LABEL + 9, 7), (LABEL + 2, 0), (LABEL - 5, 0), (LABEL + 3, 1)]
)
def test_extras_backing_off(until: int, left: int) -> None:
    """While a crash loop's back-off holds the start: how many whole seconds are left
    (0 once the time is past: the start is due), after the exit it follows."""
    assert extras(backing_off(until), NOW) == (
        f", backing off: next start in {left} seconds, exited 1"
    )


def test_extras_backoff_needs_its_flag_and_no_pid() -> None:
    """A stamp without the BACKOFF flag, or with a pid (a stale record), says nothing."""
    assert extras(backing_off(LABEL + 9, flags=EXITED), NOW) == ", exited 1"
    assert "backing off" not in extras(backing_off(LABEL + 9, pid=383), NOW)


def test_fields_backoff() -> None:
    """backoff (true/false), backoffuntil (the label, as updownsince) and backoffleft
    (seconds, as updownfor counts them); false NA -1 when not backing off."""
    v = backing_off(LABEL + 9)
    assert fields_line(v, "up,backoff,backoffuntil,backoffleft") == (
        f"false true @{LABEL + 9:016x}00000000 7"
    )
    plain = ours(0, STATE_DOWN, EXITED, code=1)
    assert fields_line(plain, "backoff,backoffuntil,backoffleft") == "false NA -1"


def test_json_backoff() -> None:
    """--json carries the back-off fields too (null when not backing off)."""
    import json

    record_ = json.loads(svstat._json_line("d", backing_off(LABEL + 9), NOW))
    assert (record_["backoff"], record_["backoffleft"]) == (True, 7)
    assert record_["backoffuntil"] == f"@{LABEL + 9:016x}00000000"
    plain = json.loads(svstat._json_line("d", ours(0, STATE_DOWN, EXITED), NOW))
    assert (plain["backoff"], plain["backoffuntil"], plain["backoffleft"]) == (False, None, None)


def test_full_line() -> None:
    """The whole text svstat prints after ``DIR: `` is classic() then extras()."""
    v = ours(0, STATE_DOWN, EXITED, signum=15, want=WANT_DOWN)
    assert classic(v, NOW) + extras(v, NOW) == "down 2 seconds, normally up, killed by SIGTERM"


# --- -o fields -----------------------------------------------------------------------------

S6_NAMES = (
    "up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,"
    "updownsince,readysince,updownfor,readyfor"
)


def fields_line(v: View, names: str, now: float = NOW) -> str:
    """What ``svstat -o NAMES`` prints for `v`, built from the public FIELDS table."""
    parts = []
    for name in names.split(","):
        get, missing = FIELDS[name]
        parts.append(field_text(get(v, now), missing))
    return " ".join(parts)


def test_fields_s6_observed_line() -> None:
    """The line Debian's s6-svstat printed, from the same stamps."""
    v = make(
        records.pack(records.Status(Tai64n(0x400000006B01D504, 0x0CD15169), 21205, False, WANT_UP,
                                    False, 1)),
        normally_up=False,
        flags=NOTIFY | READY,
        ready=(0x400000006B01D505, 0x0CF53350),
    )
    now = 0x6B01D505 - 10 + 0.5
    assert fields_line(v, S6_NAMES, now) == (
        "true true false true false 21205 -1 NA -1 "
        "@400000006b01d5040cd15169 @400000006b01d5050cf53350 1 0"
    )


def test_fields_down_killed() -> None:
    """Down after SIGTERM: pid -1, exitcode -1, signal SIGTERM 15, no readiness."""
    v = ours(0, STATE_DOWN, EXITED, signum=15, want=WANT_DOWN)
    assert fields_line(v, S6_NAMES) == (
        "false false true false false -1 -1 SIGTERM 15 "
        "@400000006b01d5b53726b4ac NA 2 -1"
    )


def test_fields_down_exited() -> None:
    """Down after exit 3: exitcode 3, signal NA, signum -1."""
    v = ours(0, STATE_DOWN, EXITED, code=3)
    assert fields_line(v, "exitcode,signal,signum") == "3 NA -1"


def test_fields_daemontools_record() -> None:
    """A daemontools record has no last exit, and up means ready."""
    v = make(record(383, paused=True))
    assert fields_line(v, "up,ready,paused,pid,exitcode,signal,signum,readyfor") == (
        "true true true 383 -1 NA -1 2"
    )
    assert fields_line(v, "want,state,finishing,failed,gotterm") == "up run false false false"


def test_fields_ours() -> None:
    """Our own fields: want, state, finishing, failed, gotterm."""
    runit = make(record(20500, want=WANT_DOWN, term=True, state=STATE_FINISH))
    assert fields_line(runit, "up,pid,want,state,finishing,gotterm") == (
        "false -1 down finish true true"
    )
    once = ours(0, STATE_DOWN, FAILED, want=WANT_ONCE)
    assert fields_line(once, "want,state,failed,updownfor") == "once down true 2"


def test_fields_paused_needs_a_pid() -> None:
    """runit's paused byte while down is not "paused" (same rule as the classic line)."""
    v = make(record(0, paused=True, want=WANT_DOWN, state=STATE_DOWN))
    assert fields_line(v, "paused") == "false"


def test_fields_not_ready_with_notify() -> None:
    """NOTIFY without READY: ready false, readysince NA, readyfor -1."""
    v = ours(383, STATE_RUN, NOTIFY)
    assert fields_line(v, "up,ready,readysince,readyfor") == "true false NA -1"


@pytest.mark.parametrize(
    ("value", "missing", "text"),
    [
        (None, "-1", "-1"),
        (None, "NA", "NA"),
        (None, "false", "false"),
        (True, "false", "true"),
        (False, "NA", "false"),
        (0, "-1", "0"),
        (383, "-1", "383"),
        ("@4000", "NA", "@4000"),
        ("", "NA", ""),
    ],
)
def test_field_text(value: bool | int | str | None, missing: str, text: str) -> None:
    """None prints the field's s6 placeholder; booleans true/false; 0 stays a number."""
    assert field_text(value, missing) == text


def test_field_placeholders_follow_s6() -> None:
    """Numbers missing print -1, names NA, flags false, as s6-svstat prints them."""
    missing = {name: placeholder for name, (_, placeholder) in FIELDS.items()}
    assert [missing[n] for n in ("pid", "exitcode", "signum", "updownfor", "readyfor")] == [
        "-1"
    ] * 5
    assert [missing[n] for n in ("signal", "updownsince", "readysince")] == ["NA"] * 3
    assert [missing[n] for n in ("up", "wantedup", "normallyup", "ready", "paused")] == [
        "false"
    ] * 5
    assert set(S6_NAMES.split(",")) <= set(FIELDS)


# --- parse() -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        ([], ("classic", [], [])),
        (["a", "b"], ("classic", [], ["a", "b"])),
        (["-o", "up,pid", "a"], ("fields", ["up", "pid"], ["a"])),
        (["-oup,pid", "a"], ("fields", ["up", "pid"], ["a"])),
        (["-o", "readyfor"], ("fields", ["readyfor"], [])),
        (["--json", "a", "b"], ("json", [], ["a", "b"])),
        (["--", "-o", "up"], ("classic", [], ["-o", "up"])),
        (["--json", "--", "--json"], ("json", [], ["--json"])),
        (["-", "-o", "up"], ("classic", [], ["-", "-o", "up"])),
        (["a", "-o", "up"], ("classic", [], ["a", "-o", "up"])),
    ],
)
def test_parse(argv: list[str], parsed: tuple[str, list[str], list[str]]) -> None:
    """Options only before the first directory; -o in both forms; --json; -- and - end them."""
    assert parse(argv) == parsed


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["-o", "up,bogus", "a"], "bogus"),
        (["-obogus"], "bogus"),
        (["-o"], "(none)"),
        (["-o", ","], "(none)"),
    ],
)
def test_parse_unknown_field(argv: list[str], named: str) -> None:
    """An unknown or missing field is a usage error (exit 100) naming it and the known ones."""
    with pytest.raises(Usage) as caught:
        parse(argv)
    assert caught.value.code == 100
    assert named in caught.value.text
    assert caught.value.text.startswith("svstat: ")
    assert "updownsince" in caught.value.text


@pytest.mark.parametrize("argv", [["-x", "a"], ["--jsn"], ["--json=1"], ["-j"]])
def test_parse_unknown_option(argv: list[str]) -> None:
    """An unknown option is svstat's usage, exit 100."""
    with pytest.raises(Usage) as caught:
        parse(argv)
    assert caught.value.code == 100
    assert caught.value.text == USAGE


def test_main_usage_exit(capsys: pytest.CaptureFixture[str]) -> None:
    """main() turns a usage error into exit 100 and the text on stderr, nothing on stdout."""
    assert svstat.main(["-o", "bogus"]) == 100
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("svstat: unknown field bogus")


# --- the process tree (issue 15) --------------------------------------------------------


def with_tree(v: View, pids: list[int]) -> View:
    """`v` whose tree (a session, as supervise/tree would name it) holds `pids` now."""
    v.followed = ("session", "4711")
    v._members = pids
    return v


@pytest.mark.parametrize(("v", "text"), [
    (with_tree(ours(0, STATE_DOWN, EXITED, signum=15), [12, 13]),
     "down 2 seconds, normally up, want up, killed by SIGTERM, 2 processes left"),
    (with_tree(ours(0, STATE_DOWN, EXITED, code=0), [12]),
     "down 2 seconds, normally up, want up, exited 0, 1 process left"),
    (with_tree(ours(0, STATE_DOWN, EXITED, code=0), []),
     "down 2 seconds, normally up, want up, exited 0"),
    (with_tree(ours(383, STATE_RUN, 0), [383, 384, 385]), "up (pid 383) 2 seconds"),
])
def test_processes_left_only_while_run_is_not_running(v: View, text: str) -> None:
    """daemontools' text unchanged, and ', N processes left' only when ./run is not
    running and its tree is not empty."""
    assert classic(v, NOW) + extras(v, NOW) == text


def test_fields_tree() -> None:
    up = with_tree(ours(383, STATE_RUN, 0), [383, 384, 385])
    assert fields_line(up, "tree,processes,left,memory,cpuusec") == "session 3 0 -1 -1"
    down = with_tree(ours(0, STATE_DOWN, EXITED), [384, 385])
    assert fields_line(down, "processes,left") == "2 2"
    assert fields_line(ours(0, STATE_DOWN, EXITED), "tree,processes,left") == "NA -1 -1"

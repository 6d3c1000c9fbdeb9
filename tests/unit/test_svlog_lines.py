"""svlog's line splitter: multilog's 1000-byte heads, streamed tails, selection, stderr.

The two paths (`Splitter.fast` for scripts without selection, `Splitter.feed` for the
rest) must give every directory the same bytes for any input cut into any reads; the
details of `feed` (what goes out as a head, when multilog would flush) are golden cases
read from multilog.c and checked against Debian's multilog by the interop tests.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svlog.lines import FLUSH, HEAD, PUT, PUTC, SEGMENT, Batch, Splitter
from svlog.script import parse

LABEL = b"@400000006b0211213001351c "


def ops_data(batch: Batch, index: int = 0) -> bytes:
    return batch.data(index)


def through_feed(splitter: Splitter, reads: list[bytes], prefix: bytes) -> bytes:
    out = b"".join(splitter.feed(data, prefix).data(0) for data in reads)
    return out + splitter.end().data(0)


def through_fast(splitter: Splitter, reads: list[bytes], prefix: bytes) -> bytes:
    out = b"".join(splitter.fast(data, prefix) for data in reads)
    return out + splitter.end().data(0)


LINES = st.lists(
    st.one_of(
        st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
        st.integers(min_value=900, max_value=2500).map(lambda n: b"x" * n),
    ),
    max_size=12,
)


@st.composite
def reads(draw: st.DrawFn) -> list[bytes]:
    """Some lines (short, and some past the 1000-byte head), perhaps without a last newline,
    cut into reads at arbitrary places."""
    lines = draw(LINES)
    data = b"".join(line + b"\n" for line in lines)
    if draw(st.booleans()):
        data += draw(st.binary(max_size=20)).replace(b"\n", b"")
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    return [piece for piece in pieces if piece]


@settings(max_examples=400, deadline=None)
@given(reads(), st.sampled_from([b"", LABEL]))
def test_fast_and_feed_give_the_same_bytes(pieces: list[bytes], prefix: bytes) -> None:
    script = parse(["t", "./a"] if prefix else ["./a"])
    assert through_fast(Splitter(script), pieces, prefix) == through_feed(
        Splitter(script), pieces, prefix
    )


@settings(max_examples=200, deadline=None)
@given(reads())
def test_every_line_once_with_its_label(pieces: list[bytes]) -> None:
    """Each input line comes out once, whole, labelled; a last line gets its newline."""
    data = b"".join(pieces)
    out = through_fast(Splitter(parse(["t", "./a"])), pieces, LABEL)
    expected = [LABEL + line for line in data.split(b"\n")]
    if expected[-1] == LABEL:
        expected.pop()
    assert out.split(b"\n")[:-1] == expected
    assert out.endswith(b"\n") or not out


SCRIPTS = [
    ["t", "./a"],
    ["./a", "./b"],
    ["t", "-*", "+@*x*", "./a", "e", "+*", "./b"],
    ["+*", "-x*", "-*z", "./a", "e"],
    ["t", "-*y*", "./a", "-*", "./b"],
    ["e", "./a", "e"],  # two e: quick gives up
    ["t", "e"],
]


def through_quick(splitter: Splitter, pieces: list[bytes], prefix: bytes,
                  count: int) -> tuple[list[bytes], bytes]:
    """quick where it can, feed where it gives up, as main does."""
    out, errors = [b""] * count, b""
    for data in pieces:
        quick = splitter.quick(data, prefix)
        if quick is None:
            batch = splitter.feed(data, prefix)
            outs, said = [batch.data(i) for i in range(count)], batch.errors
        else:
            outs, said = quick
        out = [a + b for a, b in zip(out, outs, strict=True)]
        errors += b"".join(said)
    end = splitter.end()
    return [a + end.data(i) for i, a in enumerate(out)], errors + b"".join(end.errors)


def through_feed_only(splitter: Splitter, pieces: list[bytes], prefix: bytes,
                      count: int) -> tuple[list[bytes], bytes]:
    batches = [splitter.feed(data, prefix) for data in pieces] + [splitter.end()]
    return ([b"".join(batch.data(i) for batch in batches) for i in range(count)],
            b"".join(b"".join(batch.errors) for batch in batches))


XYZ_LINES = st.lists(
    st.one_of(
        st.lists(st.sampled_from(b"xyz *@"), max_size=30).map(bytes),
        st.integers(min_value=900, max_value=1200).map(lambda n: b"y" * n),
    ),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SCRIPTS), XYZ_LINES, st.booleans(), st.data())
def test_quick_and_feed_agree(argv: list[str], lines: list[bytes], cut: bool,
                              draw: st.DataObject) -> None:
    """Whole-read selection gives every directory, and stderr, what line-by-line does."""
    data = b"".join(line + b"\n" for line in lines) + (b"tail" if cut else b"")
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=5)))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    pieces = [piece for piece in pieces if piece]
    script = parse(argv)
    prefix = LABEL if script.timestamp else b""
    count = len(script.directories)
    assert through_quick(Splitter(script), pieces, prefix, count) == through_feed_only(
        Splitter(script), pieces, prefix, count
    )


def test_quick_gives_up_on_long_lines_without_changing_anything() -> None:
    splitter = Splitter(parse(["-*x*", "./a"]))
    splitter.feed(b"begun", b"")
    state = splitter.save()
    assert splitter.quick(b"\n" + b"y" * 1200 + b"\nnext", b"") is None
    assert splitter.save() == state


def test_save_and_restore_replay_a_read() -> None:
    """The fast path may give up on a read (a rotation is near) and replay it with feed."""
    splitter = Splitter(parse(["t", "./a"]))
    splitter.fast(b"partial", LABEL)
    state = splitter.save()
    first = splitter.fast(b" line\nnext", LABEL)
    splitter.restore(state)
    assert splitter.feed(b" line\nnext", LABEL).data(0) == first == LABEL + b"partial line\n"
    assert not splitter.at_line_start


def test_a_line_goes_out_when_its_newline_comes() -> None:
    splitter = Splitter(parse(["t", "./a"]))
    assert splitter.feed(b"one\ntw", LABEL).ops[0] == [
        (PUT, LABEL + b"one"), (PUTC, b"\n"), (FLUSH, b""),
    ]
    assert not splitter.at_line_start
    later = b"@400000006b0211223001351c "
    assert splitter.feed(b"o\n", later).ops[0] == [
        (PUT, LABEL + b"two"), (PUTC, b"\n"), (FLUSH, b""),  # labelled when its first byte came
    ]
    assert splitter.at_line_start


def test_empty_lines() -> None:
    """multilog labels an empty line too: the label, its space, the newline."""
    assert Splitter(parse(["t", "./a"])).fast(b"\n\n", LABEL) == LABEL + b"\n" + LABEL + b"\n"
    assert Splitter(parse(["./a"])).feed(b"\n", b"").data(0) == b"\n"


def test_long_line_head_then_tail() -> None:
    """The first 1000 bytes (label included) go out at once, the rest as it comes,
    flushed at each 1024-byte boundary of input like any other bytes."""
    splitter = Splitter(parse(["t", "./a"]))
    text = b"y" * 1500
    batch = splitter.feed(text[:1200], LABEL)
    cut = HEAD - len(LABEL)
    assert batch.ops[0] == [
        (PUT, LABEL + text[:cut]), (PUTC, text[cut:SEGMENT]), (FLUSH, b""),
        (PUTC, text[SEGMENT:1200]), (FLUSH, b""),
    ]
    rest = splitter.feed(text[1200:] + b"\nz\n", LABEL)
    assert rest.ops[0] == [
        (PUTC, text[1200:] + b"\n"), (PUT, LABEL + b"z"), (PUTC, b"\n"), (FLUSH, b""),
    ]


def test_head_of_exactly_1000_bytes() -> None:
    """974 bytes after a label fill the head: it goes out, and the newline is its tail."""
    splitter = Splitter(parse(["t", "./a"]))
    body = b"q" * (HEAD - len(LABEL))
    assert splitter.feed(body + b"\n", LABEL).ops[0] == [
        (PUT, LABEL + body), (PUTC, b"\n"), (FLUSH, b""),
    ]


def test_flush_every_1024_bytes_of_input() -> None:
    """multilog reads 1024 bytes at a time and flushes its buffers before each read."""
    line = b"a" * 99 + b"\n"
    batch = Splitter(parse(["./a"])).feed(line * 30, b"")
    flushes = [i for i, (kind, _) in enumerate(batch.ops[0]) if kind == FLUSH]
    # 3000 bytes: reads of 1024, 1024, 952; a line ending in a segment goes out in it
    lines_per_segment = [sum(1 for kind, data in batch.ops[0][a:b] if kind == PUT)
                         for a, b in zip([0, *flushes], flushes, strict=False)]
    assert lines_per_segment == [10, 10, 10]
    assert len(line * 30) // SEGMENT + 1 == len(flushes)


def test_end_gives_a_newline() -> None:
    splitter = Splitter(parse(["t", "./a"]))
    splitter.feed(b"no newline", LABEL)
    assert splitter.end().data(0) == LABEL + b"no newline\n"
    assert splitter.at_line_start
    assert splitter.end().ops == [[]]  # nothing begun: nothing


def test_end_in_a_tail() -> None:
    splitter = Splitter(parse(["./a"]))
    splitter.feed(b"w" * 1200, b"")
    assert splitter.end().ops[0] == [(PUTC, b"\n"), (FLUSH, b"")]


SELECTION = [
    # (script, line, directories that get it)
    (["-*", "./a"], b"x", (False,)),
    (["-*", "+x*", "./a"], b"xy", (True,)),
    (["-*", "+x*", "./a"], b"yx", (False,)),
    (["-x*", "./a"], b"xy", (False,)),
    (["./a", "-x*", "./b", "+*y", "./c"], b"xy", (True, False, True)),
    (["+nothing", "./a"], b"x", (True,)),  # + on a selected line changes nothing
    (["-*", "-*", "+*", "./a"], b"x", (True,)),
]


@pytest.mark.parametrize(("argv", "line", "chosen"), SELECTION)
def test_selection_in_script_order(argv: list[str], line: bytes, chosen: tuple[bool]) -> None:
    batch = Splitter(parse(argv)).feed(line + b"\n", b"")
    assert tuple(bool(ops) for ops in batch.ops) == chosen
    for ops, selected in zip(batch.ops, chosen, strict=True):
        if selected:
            assert b"".join(data for _, data in ops) == line + b"\n"


def test_selection_sees_the_label() -> None:
    """With t, patterns are matched against the stamped line, as multilog does [obs]."""
    script = parse(["t", "-*", "+@* fatal: *", "./a"])
    batch = Splitter(script).feed(b"fatal: disk\nalpha fatal: one\n", LABEL)
    assert batch.data(0) == LABEL + b"fatal: disk\n"


def test_selection_of_a_long_line_is_its_head() -> None:
    """Only the first 1000 bytes are matched; the tail follows the head's selection."""
    script = parse(["-*", "+*end", "./a"])
    line = b"a" * 1500 + b"end"
    assert Splitter(script).feed(line + b"\n", b"").data(0) == b""
    script = parse(["-*end", "./a"])
    assert Splitter(script).feed(line + b"\n", b"").data(0) == line + b"\n"


def test_stderr_gets_selected_lines_cut_at_200() -> None:
    """`e` prints the line as selected at that point; past 200 bytes, 200 and "..." [obs]."""
    splitter = Splitter(parse(["t", "e", "-*", "e", "./a"]))
    long = b"x" * 300
    batch = splitter.feed(b"short\n" + long + b"\n", LABEL)
    assert batch.errors == [LABEL + b"short\n", (LABEL + long)[:200] + b"...\n"]
    assert batch.data(0) == b""
    exactly = b"y" * (200 - len(LABEL))
    assert Splitter(parse(["t", "e"])).feed(exactly + b"\n", LABEL).errors == [
        LABEL + exactly + b"\n"
    ]


def test_no_directories() -> None:
    """A script without directories reads and drops (or only prints) its input."""
    batch = Splitter(parse(["e"])).feed(b"a\nb\n", b"")
    assert batch.ops == [] and batch.errors == [b"a\n", b"b\n"]


def expected_held(stream: bytes, prefix: bytes) -> int:
    """The input bytes of the line being read, while its head (label included) is short."""
    tail = stream.rpartition(b"\n")[2]
    return len(tail) if len(prefix) + len(tail) < HEAD else 0


@settings(max_examples=300, deadline=None)
@given(reads(), st.sampled_from([b"", LABEL]), st.sampled_from(["fast", "feed", "quick"]))
def test_held_is_what_no_directory_got_yet(pieces: list[bytes], prefix: bytes,
                                           way: str) -> None:
    """After each read, `held` counts the bytes a pipe must keep for the next logger:
    those of the line being read whose head has not gone out; every other byte has."""
    stamped = ["t"] if prefix else []
    script = parse([*stamped, "-*x*", "./a"] if way == "quick" else [*stamped, "./a"])
    splitter = Splitter(script)
    stream = b""
    for data in pieces:
        if way == "fast":
            splitter.fast(data, prefix)
        elif way == "feed" or splitter.quick(data, prefix) is None:
            splitter.feed(data, prefix)
        stream += data
        assert splitter.held == expected_held(stream, prefix)
    splitter.end()
    assert splitter.held == 0


def test_held_survives_save_and_restore() -> None:
    splitter = Splitter(parse(["t", "./a"]))
    splitter.fast(b"done\nhalf", LABEL)
    state = splitter.save()
    splitter.fast(b" and the rest\n", LABEL)
    assert splitter.held == 0
    splitter.restore(state)
    assert splitter.held == len(b"half")

"""Where svlog ends ``current``: multilog's buffer and write rule, replayed.

The golden file sizes were produced by Debian's ``/usr/bin/multilog`` from the input
`sample` (stdin a regular file, so multilog read 1024 bytes at a time) with ``n1000``
(nothing pruned): svlog's splitter and rotation, fed the same bytes, must end every
file at the same byte. The properties hold for any input: nothing lost or repeated,
a cut only after a newline, no file below ``size - 2000`` bytes but the last.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svlog.lines import Splitter
from svlog.rotation import SLACK, Rotation
from svlog.script import parse
from svlog_golden import GOLDEN, sample

LABEL = b"@400000006b0211213001351c "
READ = 1 << 17


def files_of(data: bytes, argv: list[str], read: int = READ) -> list[bytes]:
    """The contents of every file svlog makes of `data` (archives in order, then current)."""
    script = parse(argv)
    prefix = LABEL if script.timestamp else b""
    splitter = Splitter(script)
    rotation = Rotation(script.directories[0].size)
    files = [b""]
    batches = [splitter.feed(data[at : at + read], prefix) for at in range(0, len(data), read)]
    for batch in [*batches, splitter.end()]:
        for step in rotation.plan(batch.ops[0]):
            if step is None:
                files.append(b"")
            else:
                files[-1] += step
    return files


@pytest.mark.parametrize("script", sorted(GOLDEN))
@pytest.mark.parametrize("read", [READ, 1024, 3072])
def test_files_end_where_multilogs_do(script: str, read: int) -> None:
    """Byte for byte the sizes Debian's multilog wrote, whatever svlog's own read size
    (a multiple of 1024 here, as a regular file's reads are)."""
    files = files_of(sample(), [*script.split(), "./d"], read)
    assert [len(f) for f in files] == GOLDEN[script]


def test_quiet_means_no_cut() -> None:
    rotation = Rotation(10000, written=7000)
    assert rotation.quiet(999) and not rotation.quiet(1000)  # 8000 = size - 2000
    rotation.advance(b"x" * 100 + b"\n")
    assert rotation.written == 7101 and rotation.at_newline


def test_appending_to_a_big_current_rotates_first() -> None:
    """A restart that appends to a current already past the size rotates at once, as
    multilog's c_write does when it finds bytes >= size."""
    rotation = Rotation(4096, written=5000)
    assert rotation.plan([(0, b"a\n"), (2, b"")]) == [None, b"a\n"]


def test_a_long_line_is_not_split() -> None:
    """multilog would cut at `size` in the middle of this line; svlog ends it first."""
    rotation = Rotation(4096)
    line = b"x" * 5000 + b"\n"
    steps = rotation.plan([(0, line[:1000]), (1, line[1000:]), (2, b""), (0, b"y"), (1, b"\n")])
    assert steps == [line, None, b"y\n"]


CHUNKS = st.lists(
    st.tuples(st.sampled_from([0, 1, 2]), st.binary(max_size=1500)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(CHUNKS, st.integers(4096, 9000), st.integers(0, 9000))
def test_nothing_lost_cuts_after_newlines(ops: list[tuple[int, bytes]], size: int,
                                          written: int) -> None:
    rotation = Rotation(size, written)
    steps = rotation.plan([(kind, data if kind != 2 else b"") for kind, data in ops])
    assert b"".join(step for step in steps if step is not None) == b"".join(
        data for kind, data in ops if kind != 2
    )
    files = [b""]
    for step in steps:
        if step is None:
            files.append(b"")
        else:
            files[-1] += step
    first = written + len(files[0])
    for number, body in enumerate(files[:-1]):
        assert body.endswith(b"\n") or (number == 0 and not body)
        assert (first if number == 0 else len(body)) >= size - SLACK


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3000), max_size=60))
def test_lines_never_split(lengths: list[int]) -> None:
    """Whatever the line lengths, every file holds whole lines."""
    data = b"".join(b"l" * n + b"\n" for n in lengths)
    for body in files_of(data, ["t", "s4096", "./d"], 4096):
        assert not body or body.endswith(b"\n")
        assert all(line.startswith(LABEL) for line in body.split(b"\n")[:-1])

"""multilog's patterns: golden cases and every pattern against a transliteration of match.c.

`reference` below is daemontools' match.c read line by line (a star skips to the first
occurrence of the next pattern byte, which is then read again as pattern; no
backtracking); the compiled `Pattern` must agree with it on any pattern and line.
The golden lines with ``t`` labels were checked against Debian's multilog.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svlog.pattern import Pattern, matches


def reference(pattern: bytes, line: bytes) -> bool:
    """match.c, as written: a pattern byte at a time, a star skipping to the next byte."""
    p, b = 0, 0
    while True:
        if p == len(pattern):
            return b == len(line)
        ch = pattern[p]
        p += 1
        if ch == ord("*"):
            if p == len(pattern):
                return True
            nxt = pattern[p]
            while True:
                if b == len(line):
                    return False
                if line[b] == nxt:
                    break
                b += 1
            continue
        if b == len(line) or line[b] != ch:
            return False
        b += 1


LABEL = b"@400000006b0211213001351c "

GOLDEN: list[tuple[bytes, bytes, bool]] = [
    (b"", b"", True),
    (b"", b"x", False),
    (b"*", b"", True),
    (b"*", b"anything at all", True),
    (b"abc", b"abc", True),
    (b"abc", b"abcd", False),
    (b"abc", b"ab", False),
    (b"a*", b"abc", True),
    (b"*c", b"abc", True),
    (b"*c", b"abcc", False),  # the star stops at the first c; then the line must end
    (b"*b", b"ab", True),
    (b"*bc", b"abbc", False),  # stops at the first b, then c meets b: no backtracking
    (b"*bc", b"abc", True),
    (b"a*c*e", b"abcde", True),
    (b"a*c*e", b"abcdef", False),
    (b"a**b", b"a*xb", True),  # a star before a star looks for a literal *
    (b"a**b", b"axb", False),
    (b"* fatal: *", b"x fatal: y", True),
    (b"* fatal: *", b"x y fatal: z", False),
    # with t, the label is part of the line multilog matches [obs]
    (b"* fatal: *", LABEL + b"alpha fatal: one", False),
    (b"alpha*", LABEL + b"alpha fatal: one", False),
    (b"@*alpha*", LABEL + b"alpha fatal: one", True),  # no "a" in this label's digits
    (b"@* fatal: *", LABEL + b"fatal: disk", True),
    (b"@* fatal: *", LABEL + b"alpha fatal: one", False),
    (b"beta*", b"beta ok", True),
    (b"*\xff*", b"a\xffb", True),
]


@pytest.mark.parametrize(("pattern", "line", "expected"), GOLDEN)
def test_golden(pattern: bytes, line: bytes, expected: bool) -> None:
    assert matches(pattern, line) is expected
    assert reference(pattern, line) is expected


ALPHABET = st.sampled_from(b"ab*c ")


@settings(max_examples=1000, deadline=None)
@given(st.lists(ALPHABET, max_size=8).map(bytes), st.lists(ALPHABET, max_size=12).map(bytes))
def test_agrees_with_match_c(pattern: bytes, line: bytes) -> None:
    """Small alphabets, so stars, repeats and near-misses are frequent."""
    assert Pattern(pattern).matches(line) is reference(pattern, line)


@given(st.binary(max_size=12), st.binary(max_size=40))
def test_agrees_with_match_c_on_any_bytes(pattern: bytes, line: bytes) -> None:
    assert Pattern(pattern).matches(bytearray(line)) is reference(pattern, line)

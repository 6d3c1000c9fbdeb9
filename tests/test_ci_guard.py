"""The CI guard (ci_guard.py): a missing peer or tmpfs skips, but fails under CI=true.

Wherever the test lives: here the tests are in a plain directory, not in
``interop``. Any other skip stays a skip, with or without CI.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

import ci_guard
from ci_guard import under_ci

pytest_plugins = ["pytester"]

CASES = """
import pytest

from support import peer, small_tmpfs


def test_needs_a_missing_peer():
    peer("no-such-peer-program")


@pytest.fixture
def missing_peer():
    return peer("no-such-peer-program")


def test_needs_a_missing_peer_in_a_fixture(missing_peer):
    pass


def test_needs_a_tmpfs_it_cannot_mount(tmp_path):
    with small_tmpfs(tmp_path / "disk"):  # PATH's mount refuses, as it does for a user
        pass


def test_skips_for_another_reason():
    pytest.skip("not about this machine's prerequisites")


def test_passes():
    pass
"""


#: A ``mount`` that fails as util-linux's does for a user who is not root.
NO_MOUNT = "#!/bin/sh\necho 'mount: only root can use \"--types\" option' >&2\nexit 1\n"


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    """Run CASES in a pytest of their own, with ci_guard loaded and a mount that fails."""
    tools = pytester.mkdir("tools")
    (tools / "mount").write_text(NO_MOUNT)
    (tools / "mount").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    pytester.makepyfile(test_cases=CASES)
    return pytester.runpytest("-p", "no:cacheprovider", "-ra", plugins=[ci_guard])


def test_without_ci_a_missing_prerequisite_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = _run(pytester, monkeypatch)
    result.assert_outcomes(passed=1, skipped=4)
    result.stdout.fnmatch_lines([
        "SKIPPED*unavailable here: /usr/bin/no-such-peer-program is not installed*",
        "SKIPPED*unavailable here: cannot mount a tmpfs: mount: only root*",
    ], consecutive=False)


def test_under_ci_a_missing_prerequisite_fails_wherever_the_test_is(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = _run(pytester, monkeypatch)
    result.assert_outcomes(passed=1, skipped=1, failed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*test_needs_a_missing_peer: skipped under CI=true*no-such-peer-program*",
        "*test_needs_a_tmpfs_it_cannot_mount: skipped under CI=true*cannot mount a tmpfs*",
        "SKIPPED*not about this machine's prerequisites*",
    ], consecutive=False)


def test_hypothesis_replays_a_failure() -> None:
    """Every failure prints its replay blob; under CI=true the examples are derandomized."""
    assert settings.default.print_blob
    assert settings.default.derandomize is under_ci()
    assert settings.get_profile("ci").derandomize


def test_a_failing_property_prints_how_to_replay_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_property="""
from hypothesis import given, strategies as st

@given(st.integers())
def test_small(n):
    assert n < 1000
""")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*@reproduce_failure(*"])

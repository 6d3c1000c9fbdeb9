"""A pytest plugin: under CI=true, a test that lacks what it needs fails instead of skipping.

Some tests need something of the machine: a Debian peer (``/usr/bin/svstat``), a
tmpfs to fill, PID namespaces. On a developer's machine without it they skip;
in CI a skip would let a regression pass unseen. Such tests say what is missing
with `unavailable`, which raises `Unavailable`, a skip of its own kind; the hook
below turns that skip into a failure when CI=true, in whatever directory the
test lives. In ``tests/interop``, whose every test compares us with a peer, any
skip fails under CI=true. Any other skip stays a skip.

Hypothesis runs under a profile of ours (`load_hypothesis_profile`): every
failure prints the blob that replays it (``@reproduce_failure``), and under
CI=true the examples are derandomized, so a red CI run fails the same way on a
developer's machine. Deadlines are generous: the machine is shared and loaded.

tests/conftest.py loads this plugin; tests/test_ci_guard.py loads it into a
pytester run of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NoReturn

import pytest
from hypothesis import settings

#: The start of every `Unavailable` reason, so a reader of ``-ra`` sees which skips CI refuses.
PREFIX = "unavailable here: "


class Unavailable(pytest.skip.Exception):
    """Skip: the machine lacks something the test needs (a failure under CI=true)."""


def unavailable(reason: str) -> NoReturn:
    """Skip the running test for want of `reason`; under CI=true the test fails instead."""
    raise Unavailable(PREFIX + reason)


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


#: Hypothesis profiles: "dev" draws at random, "ci" the same examples every run.
#: A pure function far over 2 s is a hang, not load; 200 ms (hypothesis' own) is load.
settings.register_profile("dev", print_blob=True, deadline=2000)
settings.register_profile("ci", settings.get_profile("dev"), derandomize=True)


def load_hypothesis_profile() -> str:
    """Load "ci" under CI=true, else "dev"; its name. Call before test modules are imported."""
    name = "ci" if under_ci() else "dev"
    settings.load_profile(name)
    return name


def _refused(item: pytest.Item, call: pytest.CallInfo[None]) -> bool:
    """Whether this skip hides a missing prerequisite (or is an interop test's)."""
    if call.excinfo is not None and call.excinfo.errisinstance(Unavailable):
        return True
    return "interop" in item.nodeid.split("/")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With CI=true, a missing peer, tmpfs or namespace must not pass as a skip."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and under_ci() and _refused(item, call):
        where = report.longrepr
        reason = where[2] if isinstance(where, tuple) else where
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped under CI=true, where it must not: {reason}"

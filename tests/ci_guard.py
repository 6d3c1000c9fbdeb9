"""A pytest plugin: under CI=true, a test that lacks what it needs fails instead of skipping.

Some tests need something of the machine: a Debian peer (``/usr/bin/svstat``), a
tmpfs to fill, PID namespaces. On a developer's machine without it they skip;
in CI a skip would let a regression pass unseen. Such tests say what is missing
with `unavailable`, which raises `Unavailable`, a skip of its own kind; the hook
below turns that skip into a failure when CI=true, in whatever directory the
test lives. In ``tests/interop``, whose every test compares us with a peer, any
skip fails under CI=true. Any other skip stays a skip.

tests/conftest.py loads this plugin; tests/test_ci_guard.py loads it into a
pytester run of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NoReturn

import pytest

#: The start of every `Unavailable` reason, so a reader of ``-ra`` sees which skips CI refuses.
PREFIX = "unavailable here: "


class Unavailable(pytest.skip.Exception):
    """Skip: the machine lacks something the test needs (a failure under CI=true)."""


def unavailable(reason: str) -> NoReturn:
    """Skip the running test for want of `reason`; under CI=true the test fails instead."""
    raise Unavailable(PREFIX + reason)


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


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

"""The stray-process fixture fails a test that leaves a process running, and kills it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent

LEAKY = """
import subprocess

def test_leaks(tmp_path):
    process = subprocess.Popen(["sleep", "1000"])
    (tmp_path.parent.parent / "leaked-pid").write_text(str(process.pid))

def test_cleans_up():
    process = subprocess.Popen(["sleep", "1000"])
    process.kill()
    process.wait()
"""


def test_a_leaked_process_fails_the_test_and_is_killed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(HERE / "conftest.py", pytester.path / "conftest.py")
    shutil.copy(HERE / "support.py", pytester.path / "support.py")
    shutil.copy(HERE / "ci_guard.py", pytester.path / "ci_guard.py")
    pytester.makepyfile(test_leaky=LEAKY)
    monkeypatch.setenv("STRAY_GRACE_SECONDS", "0.5")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "trio")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*test left processes running*sleep 1000*"])
    leaked = int(next(pytester.path.parent.rglob("leaked-pid")).read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(leaked, 0)

"""supervise.inject, the test hook: armed only by the daemon's user, one fault per file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_guard import unavailable
from supervise import inject, reexec


@pytest.fixture
def armed(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "fault"
    inject.arm(str(path))
    yield path
    inject.arm(None)


def plant(path: Path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    path.chmod(mode)


def test_disarmed_point_does_nothing() -> None:
    inject.arm(None)
    inject.point("spawn")
    assert inject.carried() == {}


def test_the_variables_are_taken_out_of_the_environment(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setenv(inject.ENV, "/somewhere")
    monkeypatch.setenv(reexec.FAULTS_ENV, "1 - 2.0")
    assert reexec.take_carried() == {inject.ENV: "/somewhere", reexec.FAULTS_ENV: "1 - 2.0"}
    assert inject.ENV not in os.environ and reexec.FAULTS_ENV not in os.environ
    assert b"TRIO_SUPERVISE_INJECT" not in os.environb


def test_the_next_image_gets_the_file(armed: Path) -> None:
    assert inject.carried() == {inject.ENV: str(armed)}


def test_the_named_point_raises_once_and_removes_the_file(armed: Path) -> None:
    plant(armed, "status\n")
    inject.point("spawn")  # another point: nothing
    assert armed.exists()
    with pytest.raises(inject.Injected, match="status"):
        inject.point("status")
    assert not armed.exists()
    inject.point("status")


def test_injected_is_not_an_exception() -> None:
    assert not issubclass(inject.Injected, Exception)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_file_others_may_touch_is_ignored(armed: Path, mode: int) -> None:
    plant(armed, "spawn", mode)
    inject.point("spawn")
    assert armed.exists()


def test_a_symlink_is_ignored(armed: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    plant(target, "spawn")
    armed.symlink_to(target)
    inject.point("spawn")
    assert target.exists()


def test_a_file_of_another_user_is_ignored(armed: Path) -> None:
    if os.geteuid() != 0:
        unavailable("only root can give a file away")
    plant(armed, "spawn")
    os.chown(armed, 65534, 65534)
    inject.point("spawn")
    assert armed.exists()

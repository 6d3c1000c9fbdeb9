"""supervise.inject, the test hook: armed only by the daemon's user, one fault per file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_guard import unavailable
from supervise import inject


@pytest.fixture
def armed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "fault"
    monkeypatch.setenv(inject.ENV, str(path))
    inject.arm()
    yield path
    monkeypatch.delenv(inject.ENV, raising=False)
    inject.arm()


def plant(path: Path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    path.chmod(mode)


def test_disarmed_point_does_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(inject.ENV, raising=False)
    inject.arm()
    inject.point("spawn")
    assert inject.carried() == {}


def test_arming_takes_the_variable_out_of_the_environment(armed: Path) -> None:
    assert inject.ENV not in os.environ
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

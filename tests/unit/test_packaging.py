"""pyproject.toml, constraints/floors.txt and cmdline.version agree.

`make floors` installs the versions in constraints/floors.txt and runs the unit tests on them:
that proves the floors only if they are the ones pyproject.toml declares. The version
``--version`` prints is the one the installed metadata carries.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from cmdline.version import PROJECT, VERSION

ROOT = Path(__file__).resolve().parents[2]


def _floors_declared() -> dict[str, str]:
    """name -> lowest version, from [build-system] requires and [project] dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = {}
    for requirement in [*project["build-system"]["requires"], *project["project"]["dependencies"]]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement)
        assert match, f"{requirement!r}: a dependency is declared as NAME>=FLOOR"
        found[match[1]] = match[2]
    return found


def _floors_pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints" / "floors.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name] = version
    return pins


def test_constraints_pin_every_declared_floor() -> None:
    """Each NAME>=X.Y is pinned to a release X.Y[.Z] in floors.txt, and nothing else is pinned."""
    declared, pinned = _floors_declared(), _floors_pinned()
    assert set(pinned) == set(declared) == {"setuptools", "trio", "attrs"}
    for name, floor in declared.items():
        assert (pinned[name] + ".").startswith(floor + "."), (name, floor, pinned[name])


def test_installed_metadata_carries_the_version_and_license() -> None:
    assert importlib.metadata.version(PROJECT) == VERSION
    metadata = importlib.metadata.metadata(PROJECT)
    assert metadata["License-Expression"] == "MIT"
    assert "Operating System :: POSIX :: Linux" in metadata.get_all("Classifier")

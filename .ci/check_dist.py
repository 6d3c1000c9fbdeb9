"""Check what a built sdist and wheel carry: ``python .ci/check_dist.py DIST_DIR``.

`make floors` builds both with the lowest setuptools pyproject.toml allows, then runs this.
The wheel must hold the license text and its PEP 639 expression, the version
cmdline.version gives, and a section-8 man page for every command it installs; the sdist
must hold the license and the man pages too (a packager builds from it).
"""

from __future__ import annotations

import configparser
import sys
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from cmdline.version import VERSION  # noqa: E402


def check_wheel(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        info = f"trio_supervise-{VERSION}.dist-info"
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = configparser.ConfigParser()
        entry_points.read_string(wheel.read(f"{info}/entry_points.txt").decode())
    problems = []
    if f"{info}/licenses/LICENSE" not in names:
        problems.append(f"{path.name}: no {info}/licenses/LICENSE")
    for line in ("License-Expression: MIT", "License-File: LICENSE", f"Version: {VERSION}"):
        if line not in metadata.splitlines():
            problems.append(f"{path.name}: METADATA lacks {line!r}")
    data = f"trio_supervise-{VERSION}.data/data/share/man/man8"
    for command in entry_points["console_scripts"]:
        if f"{data}/{command}.8" not in names:
            problems.append(f"{path.name}: no man page {data}/{command}.8")
    return problems


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    return [f"{path.name}: no {name}" for name in ("LICENSE", "man/svc.8", "man/svlog.8")
            if name not in names]


def main(dist: str) -> int:
    wheels = sorted(Path(dist).glob("trio_supervise-*.whl"))
    sdists = sorted(Path(dist).glob("trio_supervise-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"check_dist: want one wheel and one sdist in {dist}, found {wheels + sdists}")
        return 1
    problems = check_wheel(wheels[0]) + check_sdist(sdists[0])
    for problem in problems:
        print(f"check_dist: {problem}")
    if not problems:
        print(f"check_dist: {wheels[0].name} and {sdists[0].name} carry LICENSE and man pages")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

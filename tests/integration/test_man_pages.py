"""man/*.8: one section-8 page per installed command, clean under mandoc and groff.

The pages are mdoc, shipped as they are (the wheel's data, `make install`'s
PREFIX/share/man/man8). Each must pass ``mandoc -T lint -W warning`` and
``groff -ww -z -mdoc`` without a word: a warning today is a page that renders wrong on
someone's pager tomorrow. mandoc's STYLE level is left out: it also reports each
``.Xr`` to a page the system's database does not hold yet (ours, before the install).
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from ci_guard import unavailable

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "man").glob("*.8"))
COMMANDS = sorted(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
OURS_ALONE = ("qm-start", "qm-stop", "svlog")


def tool(path: str) -> str:
    if not os.access(path, os.X_OK):
        unavailable(f"{path} (apt-get install mandoc groff-base)")
    return path


def test_every_command_has_a_page_and_no_page_is_stray() -> None:
    assert [page.stem for page in PAGES] == COMMANDS


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_is_clean_under_mandoc_and_groff(page: Path) -> None:
    mandoc = subprocess.run([tool("/usr/bin/mandoc"), "-T", "lint", "-W", "warning", str(page)],
                            capture_output=True, text=True, check=False)
    assert (mandoc.returncode, mandoc.stdout + mandoc.stderr) == (0, "")
    groff = subprocess.run([tool("/usr/bin/groff"), "-ww", "-z", "-mdoc", str(page)],
                           capture_output=True, text=True, check=False)
    assert (groff.returncode, groff.stdout + groff.stderr) == (0, "")


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_names_its_command_in_section_8(page: Path) -> None:
    lines = page.read_text().splitlines()
    assert f".Dt {page.stem.upper()} 8" in lines
    assert f".Nm {page.stem}" in lines
    assert any(line.startswith(".Sh EXIT STATUS") for line in lines)
    assert (".Fl \\-version" in lines) == (page.stem in OURS_ALONE)

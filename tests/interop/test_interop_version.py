"""``--version``: ours alone answer it; the drop-ins answer as daemontools' programs do.

qm-stop, qm-start and svlog exist only here, so ``--version`` (alone on the command line)
prints ``PROG (trio-supervise) VERSION`` and exits 0. The drop-ins keep daemontools'
exact answer, which is a usage error or an attempt to use ``--version`` as an argument
(djb's sgetopt takes any ``--word`` as ``--``): compared byte for byte and exit code with
Debian's. Not compared: ``supervise``, ``svscan`` and ``svstat``, whose deliberate
differences their pages name (ours take options, or refuse any: a usage error, 100).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from cmdline.version import PROJECT, VERSION
from support import peer

BIN = Path(sys.executable).parent
OURS_ALONE = ["qm-stop", "qm-start", "svlog"]
DROP_INS = ["svc", "svok", "envdir", "envuidgid", "setuidgid", "softlimit", "setlock",
            "pgrphack", "tai64nlocal"]


def answer(program: str, cwd: Path) -> tuple[int, str, str]:
    done = subprocess.run([program, "--version"], cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("name", OURS_ALONE)
def test_our_own_commands_print_their_version(name: str, tmp_path: Path) -> None:
    assert answer(str(BIN / name), tmp_path) == (0, f"{name} ({PROJECT}) {VERSION}\n", "")
    assert importlib.metadata.version(PROJECT) == VERSION


@pytest.mark.parametrize("name", DROP_INS)
def test_drop_ins_answer_version_as_daemontools(name: str, tmp_path: Path) -> None:
    assert answer(str(BIN / name), tmp_path) == answer(peer(name), tmp_path)

"""`make install PREFIX=...` and `make uninstall`, for real, into a temporary prefix.

The install is a venv made by Debian's /usr/bin/python3 under PREFIX/lib, readable by
every user, with the commands linked into PREFIX/bin. The proof that matters is the one
a qmail log service needs: svscan from PREFIX/bin runs a service whose ``log/run`` is
``exec setuidgid nobody svlog t ./main`` (found on PATH), and the log is written by
nobody. A venv made by an interpreter other users cannot run (under /root, mode 0700) is
refused at install time instead of failing every second in the log service, and a file in
PREFIX/bin that is not ours (Debian's /usr/bin/svc, for PREFIX=/usr) is never replaced.

The prefix is made with mkdtemp and opened to everyone (pytest's tmp_path is 0700: nobody
could not reach the venv through it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_guard import unavailable
from support import Daemon, eventually, make_service, started

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
COMMANDS = 15  # [project.scripts]; each has its man page


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", "-C", str(ROOT), *args], capture_output=True,
                          text=True, timeout=300, check=False)


def _open_tmpdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="install-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def prefix() -> Iterator[Path]:
    """One `make install` for the module (a venv and a pip install take a few seconds)."""
    if os.geteuid() != 0:
        unavailable("root, to run a log service as nobody")
    if subprocess.run([SYSTEM_PYTHON, "-c", "import venv, ensurepip"], check=False).returncode:
        unavailable(f"{SYSTEM_PYTHON} with venv (apt-get install python3-venv)")
    where = _open_tmpdir()
    try:
        installed = make("install", f"PREFIX={where}")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        yield where
    finally:
        make("uninstall", f"PREFIX={where}")
        shutil.rmtree(where)


def test_install_links_every_command_into_prefix_bin(prefix: Path) -> None:
    lib = prefix / "lib" / "trio-supervise"
    links = sorted((prefix / "bin").iterdir())
    assert len(links) == COMMANDS
    for link in links:
        assert link.is_symlink() and Path(os.readlink(link)) == lib / "bin" / link.name
    assert (lib / "bin" / "python").resolve().parent == Path(SYSTEM_PYTHON).resolve().parent
    for path in [lib, *lib.rglob("*")]:
        assert path.is_symlink() or path.stat().st_mode & 0o004, f"{path} not readable by all"
    pages = sorted((prefix / "share" / "man" / "man8").iterdir())
    assert [page.name for page in pages] == [f"{link.name}.8" for link in links]


def test_man_finds_our_pages_first_with_prefix_bin_first_on_path(prefix: Path) -> None:
    """man-db follows PATH: PREFIX/bin before /usr/bin shows our svc(8), not daemontools'."""
    if not os.access("/usr/bin/man", os.X_OK):
        unavailable("/usr/bin/man (apt-get install man-db)")
    env = {**os.environ, "PATH": f"{prefix}/bin:/usr/bin:/bin"}
    env.pop("MANPATH", None)
    for name in ("svc", "svlog", "tai64nlocal"):
        found = subprocess.run(["/usr/bin/man", "-w", name], env=env, capture_output=True,
                               text=True, check=True, timeout=60).stdout.split()
        assert found[0].startswith(f"{prefix}/"), (name, found)


async def test_a_log_service_runs_as_nobody_from_the_install(prefix: Path) -> None:
    """Installed svscan; log/run `setuidgid nobody svlog t ./main` by PATH: files of nobody."""
    tree = _open_tmpdir()
    try:
        path = f"PATH={prefix}/bin:/usr/bin:/bin; export PATH"
        service = make_service(tree, "talker", f"{path}\necho hello from talker\nexec sleep 1000")
        make_service(service, "log", f"{path}\nexec setuidgid nobody svlog t ./main")
        nobody = pwd.getpwnam("nobody")
        (service / "log" / "main").mkdir()
        os.chown(service / "log" / "main", nobody.pw_uid, nobody.pw_gid)
        daemon = Daemon(tree, program=[str(prefix / "bin" / "svscan")], cwd=tree)
        try:
            await started(service / "log")
            await started(service)
            current = service / "log" / "main" / "current"
            await eventually(lambda: "hello from talker" in current.read_text(), what="the line")
            assert current.stat().st_uid == nobody.pw_uid
            logger = (service / "log" / "supervise" / "pid").read_text().strip()
            assert os.stat(f"/proc/{logger}").st_uid == nobody.pw_uid
        finally:
            assert daemon.stop() == 0, daemon.stderr()
    finally:
        shutil.rmtree(tree)


def test_uninstall_removes_the_venv_and_only_our_links() -> None:
    """A file of someone else's in PREFIX/bin stops the install and survives the uninstall."""
    where = _open_tmpdir()
    try:
        (where / "bin").mkdir()
        theirs = where / "bin" / "svc"
        theirs.write_text("#!/bin/sh\necho Debian's svc\n")
        refused = make("install", f"PREFIX={where}")
        assert refused.returncode != 0
        assert f"{theirs} exists and is not ours" in refused.stderr
        assert not (where / "lib" / "trio-supervise").exists()
        (where / "bin" / "svstat").symlink_to(where / "lib" / "trio-supervise" / "bin" / "svstat")
        assert make("uninstall", f"PREFIX={where}").returncode == 0
        assert sorted(p.name for p in (where / "bin").iterdir()) == ["svc"]
        assert theirs.read_text() == "#!/bin/sh\necho Debian's svc\n"
    finally:
        shutil.rmtree(where)


def test_an_interpreter_others_cannot_run_is_refused() -> None:
    """The issue's bug: a venv whose interpreter lives under a 0700 directory (a root user's
    pyenv or venv) would fail in every setuidgid'd log service; install says so and stops."""
    if os.geteuid() != 0:
        unavailable("root, to try the install as nobody")
    private = Path(tempfile.mkdtemp(prefix="private-"))  # 0700, as /root
    where = _open_tmpdir()
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(private / "py")],
                       check=True, timeout=120)
        refused = make("install", f"PREFIX={where}", f"INSTALL_PYTHON={private}/py/bin/python")
        assert refused.returncode != 0
        assert "cannot be run by other users" in refused.stderr
        assert not (where / "lib" / "trio-supervise").exists()
        assert not (where / "bin").exists()
    finally:
        shutil.rmtree(private)
        shutil.rmtree(where)

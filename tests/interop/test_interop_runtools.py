"""The run-script tools against Debian's daemontools: same invocation, same result.

Each test runs Debian's tool (``/usr/bin/NAME``) and ours (``python -m
runtools.NAME``) with the same argv (no shell), the same explicit environment
and the same working directory, and compares what the final program printed
(``env``, ``id``, ``/proc/self/limits``, ``/proc/self/status``), what the tool
said on stderr and the exit code. The comparisons that depend on privileges run
both as root and as ``nobody`` (dropped in ``preexec_fn``).
"""

from __future__ import annotations

import fcntl
import os
import resource
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import PATIENCE, peer

#: How long one tool run may take before the test fails (loaded machine).
TIMEOUT = 30.0
NOBODY = 65534
SIDES = ("debian", "ours")

#: The environment every run starts with. LC_ALL keeps Python from coercing the locale
#: (which would add LC_CTYPE to the environment our tools pass on).
BASE_ENV = {
    "PATH": "/usr/bin:/bin",
    "LC_ALL": "C",
    "HOME": "/",
    "KEEP": "kept",
    "EMPTIED": "set before",
    "OVERRIDE": "old",
}

SOFTLIMIT_USAGE = (
    "softlimit: usage: softlimit [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes]"
    " [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes]"
    " [-s stackbytes] [-t cpusecs] child\n"
)
SETLOCK_USAGE = "setlock: usage: setlock [ -nNxX ] file program [ arg ... ]\n"


@dataclass(frozen=True)
class Outcome:
    """What one run produced."""

    code: int
    out: str
    err: str


#: The interpreter nobody can run (set by the `nobody_python` fixture): the project's own
#: lives under /root, which nobody may not enter.
NOBODY_PYTHON: list[str] = []


def command(side: str, tool: str, *args: str, nobody: bool = False) -> list[str]:
    """argv for Debian's tool (absolute path) or ours (``python -m runtools.TOOL``)."""
    if side == "debian":
        return [peer(tool), *args]
    python = NOBODY_PYTHON[0] if nobody else sys.executable
    return [python, "-m", f"runtools.{tool}", *args]


def as_nobody() -> None:
    """preexec_fn: become nobody (no supplementary groups) before the tool starts."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


#: who runs the tool: root (no preexec) or nobody
WHO: dict[str, Callable[[], None] | None] = {"root": None, "nobody": as_nobody}


def run(
    argv: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
) -> Outcome:
    result = subprocess.run(
        argv, cwd=cwd, env=BASE_ENV if env is None else env, preexec_fn=preexec,
        capture_output=True, timeout=TIMEOUT, check=False,
    )
    return Outcome(
        result.returncode,
        result.stdout.decode(errors="surrogateescape"),
        result.stderr.decode(errors="surrogateescape"),
    )


def both(
    tool: str, *args: str, cwd: Path, env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None, nobody: bool | None = None,
) -> tuple[Outcome, Outcome]:
    """(Debian's outcome, ours) for the same invocation.

    `nobody`: the tool starts unprivileged (default: when `preexec` is `as_nobody`).
    """
    nobody = preexec is as_nobody if nobody is None else nobody
    debian = run(command("debian", tool, *args), cwd, env, preexec)
    ours = run(command("ours", tool, *args, nobody=nobody), cwd, env, preexec)
    return debian, ours


def same(
    tool: str, *args: str, cwd: Path, env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None, nobody: bool | None = None,
    view: Callable[[str], object] = lambda text: text,
) -> Outcome:
    """Run both, assert the same exit code, stderr and (seen through `view`) stdout."""
    debian, ours = both(tool, *args, cwd=cwd, env=env, preexec=preexec, nobody=nobody)
    shown = " ".join((tool, *args))
    assert (ours.code, ours.err) == (debian.code, debian.err), f"{shown}: {debian} vs {ours}"
    assert view(ours.out) == view(debian.out), f"{shown}: stdout {debian.out!r} vs {ours.out!r}"
    return debian


def sorted_lines(text: str) -> list[str]:
    return sorted(text.splitlines())


def status_view(text: str) -> list[str]:
    """The /proc/self/status lines that a run-script tool may change or must keep."""
    keys = ("Uid:", "Gid:", "Groups:", "SigIgn:", "SigBlk:")
    return [line for line in text.splitlines() if line.startswith(keys)]


def limit_line(limits: str, name: str) -> list[str]:
    """[soft, hard] of the /proc/self/limits row starting with `name`."""
    for line in limits.splitlines():
        if line.startswith(name):
            return line[len(name):].split()[:2]
    raise AssertionError(f"no {name!r} in {limits!r}")


@pytest.fixture
def work() -> Iterator[Path]:
    """A scratch directory nobody can enter too (tmp_path's parents are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="tsv-runtools-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module", autouse=True)
def nobody_python() -> Iterator[str]:
    """A venv nobody can use: Debian's python3.11 with the project's src on its path.

    The project's venv interpreter is under /root (mode 0700): nobody cannot
    exec it. This venv runs the same sources with the same ``-m`` and the same
    environment; only the interpreter build differs (Debian's 3.11).
    """
    root = Path(tempfile.mkdtemp(prefix="tsv-nobody-python-", dir="/tmp"))
    try:
        root.chmod(0o755)
        (root / "bin").mkdir()
        (root / "bin" / "python").symlink_to("/usr/bin/python3.11")
        site = root / "lib" / "python3.11" / "site-packages"
        site.mkdir(parents=True)
        (site / "tsv-src.pth").write_text(str(Path(__file__).parents[2] / "src") + "\n")
        (root / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
        NOBODY_PYTHON[:] = [str(root / "bin" / "python")]
        yield NOBODY_PYTHON[0]
    finally:
        NOBODY_PYTHON.clear()
        shutil.rmtree(root)


@pytest.fixture(params=sorted(WHO))
def who(request: pytest.FixtureRequest) -> Callable[[], None] | None:
    """Run as root, then as nobody."""
    return WHO[request.param]


def _run_admin(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def account() -> Iterator[str]:
    """A temporary user with a primary group of its own and two supplementary groups."""
    name = "tsv" + secrets.token_hex(3)
    groups = [f"{name}p", f"{name}a", f"{name}b"]
    created: list[str] = []
    try:
        for group in groups:
            done = _run_admin("groupadd", group)
            assert done.returncode == 0, done.stderr
            created.append(group)
        done = _run_admin(
            "useradd", "-M", "-N", "-d", "/nonexistent", "-s", "/usr/sbin/nologin",
            "-g", groups[0], "-G", ",".join(groups[1:]), name,
        )
        assert done.returncode == 0, done.stderr
        yield name
    finally:
        problems = []
        if _run_admin("id", name).returncode == 0:
            done = _run_admin("userdel", name)
            if done.returncode != 0:
                problems.append(done.stderr)
        for group in reversed(created):
            done = _run_admin("groupdel", group)
            if done.returncode != 0:
                problems.append(done.stderr)
        assert not problems, problems


# ---------------------------------------------------------------- envdir

ENVDIR_FILES = {
    "NORMAL": b"value\n",
    "SPACES": b"with trailing \t \t\nsecond line\n",
    "LINES": b"first\nsecond\nthird\n",
    "NULS": b"a\0b\0\0c\n",
    "NULTAIL": b"x \0\n",
    "EMPTIED": b"",
    "NEVERSET": b"",
    "BLANKLINE": b"\nsecond\n",
    "SPACESONLY": b" \t \n",
    "LEADING": b"  lead\n",
    "NOEOL": b"noeol",
    "CR": b"cr\r\n",
    "TABINSIDE": b"a\tb\n",
    "UTF8": "h\u00e9llo\n".encode(),
    "OVERRIDE": b"new\n",
    "EQUALS": b"a=b=c\n",
    "LONG": b"x" * 5000 + b"\nmore\n",
    ".HIDDEN": b"secret\n",
}


def make_envdir(work: Path, files: dict[str, bytes], name: str = "env") -> Path:
    directory = work / name
    directory.mkdir()
    for key, data in files.items():
        (directory / key).write_bytes(data)
        (directory / key).chmod(0o644)
    return directory


def test_envdir_rules_give_the_same_environment(
    work: Path, who: Callable[[], None] | None
) -> None:
    """Values, trailing blanks, first line only, NULs, empty files, dotfiles: env is identical."""
    directory = make_envdir(work, ENVDIR_FILES)
    debian = same("envdir", str(directory), "env", cwd=work, preexec=who, view=sorted_lines)
    assert debian.code == 0
    lines = debian.out.splitlines()
    for expected in ("NORMAL=value", "SPACES=with trailing", "LINES=first", "NULS=a", "b",
                     "", "c", "KEEP=kept", "OVERRIDE=new", "BLANKLINE=", "SPACESONLY=",
                     "LEADING=  lead", "NOEOL=noeol", "TABINSIDE=a\tb", "NULTAIL=x ",
                     "EQUALS=a=b=c", "LONG=" + "x" * 5000):
        assert expected in lines
    removed = ("EMPTIED=", "NEVERSET=", ".HIDDEN", "HIDDEN")
    assert not any(line.startswith(removed) for line in lines)


def test_envdir_dangling_symlink_counts_as_empty(
    work: Path, who: Callable[[], None] | None
) -> None:
    """A name whose file is gone (a dangling symlink) removes the variable, as an empty file.

    Alone in the directory: daemontools reuses its read buffer when the open
    finds nothing, so after another file it would set the previous file's value.
    """
    directory = make_envdir(work, {})
    (directory / "KEEP").symlink_to(work / "gone")
    debian = same("envdir", str(directory), "env", cwd=work, preexec=who, view=sorted_lines)
    assert (debian.code, debian.err) == (0, "")
    assert "OVERRIDE=old" in debian.out.splitlines()
    assert not any(line.startswith("KEEP=") for line in debian.out.splitlines())


def test_envdir_keeps_the_pid_and_restores_the_directory(work: Path) -> None:
    """The final program has the pid we started (exec, no fork) and the starting cwd."""
    directory = make_envdir(work, {"A": b"1\n"})
    for side in SIDES:
        argv = command(side, "envdir", str(directory), "sh", "-c", 'echo $$; pwd; echo "$A"')
        process = subprocess.Popen(argv, cwd=work, env=BASE_ENV, stdout=subprocess.PIPE)
        out, _ = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0
        assert out.decode().split("\n") == [str(process.pid), str(work), "1", ""], side


def test_envdir_subdirectory_is_an_error(work: Path, who: Callable[[], None] | None) -> None:
    """A directory inside DIR cannot be read: ``unable to read DIR/sub: is a directory``, 111."""
    directory = make_envdir(work, {})
    (directory / "sub").mkdir()
    debian = same("envdir", str(directory), "env", cwd=work, preexec=who)
    assert debian.code == 111
    assert debian.err == f"envdir: fatal: unable to read {directory}/sub: is a directory\n"
    assert debian.out == ""


def test_envdir_unreadable_file(work: Path, who: Callable[[], None] | None) -> None:
    """A mode-000 file: nobody gets ``access denied`` (111); root reads it; both tools agree."""
    directory = make_envdir(work, {"SECRET": b"s3\n"})
    (directory / "SECRET").chmod(0)
    debian = same("envdir", str(directory), "env", cwd=work, preexec=who, view=sorted_lines)
    if who is None:
        assert debian.code == 0 and "SECRET=s3" in debian.out.splitlines()
    else:
        assert debian.code == 111
        assert debian.err == f"envdir: fatal: unable to read {directory}/SECRET: access denied\n"


@pytest.mark.parametrize("kind", ["missing", "file", "private"])
def test_envdir_bad_directory(work: Path, who: Callable[[], None] | None, kind: str) -> None:
    """A missing directory, a plain file, a root-only directory: same error text, exit 111."""
    target = work / kind
    if kind == "file":
        target.write_text("x\n")
    elif kind == "private":
        target.mkdir(mode=0o700)
    debian = same("envdir", str(target), "env", cwd=work, preexec=who)
    if kind == "private" and who is None:
        assert (debian.code, debian.err) == (0, "")  # root may enter it
    else:
        assert debian.code == 111 and debian.out == ""
        assert debian.err.startswith(f"envdir: fatal: unable to switch to directory {target}: ")


@pytest.mark.parametrize("args", [[], ["dir"]], ids=["none", "one"])
def test_envdir_usage(work: Path, args: list[str]) -> None:
    """Fewer than two arguments: ``envdir: usage: envdir dir child`` and exit 111."""
    debian = same("envdir", *args, cwd=work)
    assert (debian.code, debian.err) == (111, "envdir: usage: envdir dir child\n")


def test_envdir_path_from_the_directory_is_not_searched(work: Path) -> None:
    """A PATH set by the directory is passed on, but the child is found on the starting PATH."""
    directory = make_envdir(work, {"PATH": f"{work}/bin\n".encode()})
    (work / "bin").mkdir()
    script = work / "bin" / "hello"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    debian = same("envdir", str(directory), "hello", cwd=work)
    assert debian.code == 111
    assert debian.err == "envdir: fatal: unable to run hello: file does not exist\n"
    debian = same("envdir", str(directory), "/usr/bin/env", cwd=work, view=sorted_lines)
    assert f"PATH={work}/bin" in debian.out.splitlines()


# ---------------------------------------------------------------- envuidgid


@pytest.mark.parametrize("target", ["nobody", "account"])
def test_envuidgid_environment(
    work: Path, who: Callable[[], None] | None, account: str, target: str
) -> None:
    """$UID and $GID of the account, the rest of the environment untouched."""
    name = account if target == "account" else "nobody"
    debian = same("envuidgid", name, "env", cwd=work, preexec=who, view=sorted_lines)
    assert debian.code == 0
    ids = _run_admin("id", "-u", name).stdout.strip(), _run_admin("id", "-g", name).stdout.strip()
    lines = debian.out.splitlines()
    assert f"UID={ids[0]}" in lines and f"GID={ids[1]}" in lines and "KEEP=kept" in lines


def test_envuidgid_s_lists_the_account_groups(work: Path, account: str) -> None:
    """Ours only (Debian has no -s): $GIDLIST is ``id -G ACCOUNT``, comma-separated."""
    ours = run(command("ours", "envuidgid", "-s", account, "env"), work)
    assert ours.code == 0, ours.err
    expected = _run_admin("id", "-G", account).stdout.split()
    assert len(expected) == 3
    gidlist = [line for line in ours.out.splitlines() if line.startswith("GIDLIST=")]
    assert gidlist == ["GIDLIST=" + ",".join(expected)]


@pytest.mark.parametrize("tool", ["envuidgid", "setuidgid"])
def test_unknown_account(work: Path, who: Callable[[], None] | None, tool: str) -> None:
    """``TOOL: fatal: unknown account NAME``, exit 111, the child not run."""
    name = "tsvnosuch" + secrets.token_hex(3)
    debian = same(tool, name, "echo", "ran", cwd=work, preexec=who)
    assert (debian.code, debian.err, debian.out) == (
        111, f"{tool}: fatal: unknown account {name}\n", ""
    )


@pytest.mark.parametrize("tool", ["envuidgid", "setuidgid"])
@pytest.mark.parametrize("args", [[], ["nobody"]], ids=["none", "no-child"])
def test_account_tools_usage(work: Path, tool: str, args: list[str]) -> None:
    """No account or no child: the usage line and exit 100."""
    debian = same(tool, *args, cwd=work)
    assert (debian.code, debian.err) == (100, f"{tool}: usage: {tool} account child\n")


# ---------------------------------------------------------------- setuidgid


@pytest.mark.parametrize("target", ["nobody", "account"])
def test_setuidgid_ids_as_root(work: Path, account: str, target: str) -> None:
    """id and /proc/self/status of the child: the account's uid, gid, and one group only."""
    name = account if target == "account" else "nobody"
    debian = same("setuidgid", name, "id", cwd=work)
    assert debian.code == 0
    uid = _run_admin("id", "-u", name).stdout.strip()
    assert debian.out.startswith(f"uid={uid}(")
    assert debian.out.count(",") == 0  # one group: no supplementary groups kept
    debian = same("setuidgid", name, "cat", "/proc/self/status", cwd=work, view=status_view)
    gid = _run_admin("id", "-g", name).stdout.strip()
    assert f"Groups:\t{gid}" in debian.out


def test_setuidgid_s_gives_the_supplementary_groups(work: Path, account: str) -> None:
    """Ours only (daemontools-encore's -s): ``id -G`` of the child is ``id -G ACCOUNT``."""
    ours = run(command("ours", "setuidgid", "-s", account, "id", "-G"), work)
    expected = _run_admin("id", "-G", account).stdout
    assert (ours.code, ours.err, ours.out) == (0, "", expected)
    assert len(expected.split()) == 3
    ours = run(command("ours", "setuidgid", "-s", account, "id", "-u"), work)
    assert ours.out == _run_admin("id", "-u", account).stdout


@pytest.mark.parametrize("target", ["root", "nobody", "account"])
def test_setuidgid_as_nobody_fails(work: Path, account: str, target: str) -> None:
    """Unprivileged, setuidgid cannot drop to any account: 111, same text, child never run."""
    name = account if target == "account" else target
    debian = same("setuidgid", name, "id", cwd=work, preexec=as_nobody)
    assert debian.code == 111
    assert debian.out == ""
    assert debian.err == "setuidgid: fatal: unable to setgid: permission denied\n"


def test_setuidgid_s_as_nobody_fails(work: Path, account: str) -> None:
    """Ours with -s, unprivileged: exit 111 and the setgid message, never a run as nobody."""
    argv = command("ours", "setuidgid", "-s", account, "id", nobody=True)
    ours = run(argv, work, preexec=as_nobody)
    assert (ours.code, ours.out) == (111, "")
    assert ours.err == "setuidgid: fatal: unable to setgid: permission denied\n"


# ---------------------------------------------------------------- softlimit

#: option -> (a number below the hard limit, the /proc/self/limits rows it changes)
SOFTLIMIT_OPTIONS = {
    "a": ("1000000000", ["Max address space"]),
    "c": ("1000", ["Max core file size"]),
    "d": ("1000000000", ["Max data size"]),
    "f": ("1000000", ["Max file size"]),
    "l": ("4096", ["Max locked memory"]),
    "m": ("1000000000", ["Max data size", "Max stack size", "Max locked memory",
                         "Max address space"]),
    "o": ("100", ["Max open files"]),
    "p": ("500", ["Max processes"]),
    "r": ("1000000", ["Max resident set"]),
    "s": ("4000000", ["Max stack size"]),
    "t": ("100", ["Max cpu time"]),
}


@pytest.mark.parametrize("kind", ["number", "hard"])
@pytest.mark.parametrize("letter", sorted(SOFTLIMIT_OPTIONS))
def test_softlimit_option(
    work: Path, who: Callable[[], None] | None, letter: str, kind: str
) -> None:
    """Each option with a number and with ``=``: /proc/self/limits of the child is identical."""
    number, rows = SOFTLIMIT_OPTIONS[letter]
    value = number if kind == "number" else "="
    debian = same("softlimit", f"-{letter}", value, "cat", "/proc/self/limits",
                  cwd=work, preexec=who)
    assert debian.code == 0
    for row in rows:
        soft, hard = limit_line(debian.out, row)
        if kind == "hard":
            assert soft == hard
        else:
            assert soft == number or soft == hard  # -m: above the memlock hard limit


def test_softlimit_joined_values_and_several_options(
    work: Path, who: Callable[[], None] | None
) -> None:
    """``-c0 -o 50 -t=``: values joined or separate, several options in one run."""
    debian = same("softlimit", "-c0", "-o", "50", "-t=", "cat", "/proc/self/limits",
                  cwd=work, preexec=who)
    assert debian.code == 0
    assert limit_line(debian.out, "Max core file size")[0] == "0"
    assert limit_line(debian.out, "Max open files")[0] == "50"


#: option -> (resource, its /proc/self/limits row, soft and hard limits set before the
#: tool starts, a value above that hard limit)
ABOVE_HARD = {
    "c": (resource.RLIMIT_CORE, "Max core file size", 0, 4096, "100000"),
    "o": (resource.RLIMIT_NOFILE, "Max open files", 64, 200, "5000"),
    "s": (resource.RLIMIT_STACK, "Max stack size", 8388608, 16777216, "99999999"),
    "f": (resource.RLIMIT_FSIZE, "Max file size", 1000000, 2000000, "3000000"),
    "t": (resource.RLIMIT_CPU, "Max cpu time", 100, 200, "4000"),
}


@pytest.mark.parametrize("letter", sorted(ABOVE_HARD))
def test_softlimit_above_the_hard_limit(
    work: Path, who: Callable[[], None] | None, letter: str
) -> None:
    """A value above the hard limit (lowered first in the child) becomes the hard limit."""
    which, row, soft, hard, value = ABOVE_HARD[letter]

    def lower() -> None:
        resource.setrlimit(which, (soft, hard))
        if who is not None:
            who()

    debian = same("softlimit", f"-{letter}", value, "cat", "/proc/self/limits",
                  cwd=work, preexec=lower, nobody=who is not None)
    assert debian.code == 0
    assert limit_line(debian.out, row) == [str(hard), str(hard)]


@pytest.mark.parametrize("value", ["12x", "x", "-1", "+5", "1.5", " 5", "=5", "==", ""])
def test_softlimit_bad_value(work: Path, value: str) -> None:
    """A value that is not a number: Debian's answer (usage, exit 100), the child not run.

    (Debian's scan_ulong reads the empty value as 0: that one runs the child.)
    """
    debian = same("softlimit", "-c", value, "grep", "core", "/proc/self/limits", cwd=work)
    if value:
        assert (debian.code, debian.err, debian.out) == (100, SOFTLIMIT_USAGE, "")
    else:
        assert debian.code == 0 and debian.out.split()[4] == "0"


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (["-z", "true"], "softlimit: illegal option -- z\n"),
        (["-c"], "softlimit: option requires an argument -- c\n"),
        (["-c", "0"], ""),
        ([], ""),
    ],
    ids=["illegal", "missing-value", "no-child", "nothing"],
)
def test_softlimit_usage(work: Path, args: list[str], first: str) -> None:
    """Illegal option, missing value, no child: sgetopt's line, the usage line, exit 100."""
    debian = same("softlimit", *args, cwd=work)
    assert (debian.code, debian.err) == (100, first + SOFTLIMIT_USAGE)


# ---------------------------------------------------------------- setlock


@pytest.mark.parametrize("outer", SIDES)
@pytest.mark.parametrize("inner", SIDES)
def test_setlock_child_holds_the_lock(work: Path, outer: str, inner: str) -> None:
    """A second ``setlock -n FILE true`` started by the child fails: the child has the lock."""
    lock = work / "lock"
    argv = command(outer, "setlock", str(lock), *command(inner, "setlock", "-n", str(lock), "true"))
    outcome = run(argv, work)
    assert (outcome.code, outcome.out) == (111, "")
    assert outcome.err == f"setlock: fatal: unable to lock {lock}: temporary failure\n"


def test_setlock_runs_the_child_with_the_same_pid(work: Path) -> None:
    """The child is exec'd: the pid it prints is the one we started; the lock is released after."""
    lock = work / "lock"
    for side in SIDES:
        argv = command(side, "setlock", "-n", str(lock), "sh", "-c", "echo $$")
        process = subprocess.Popen(argv, cwd=work, env=BASE_ENV, stdout=subprocess.PIPE)
        out, _ = process.communicate(timeout=TIMEOUT)
        assert (process.returncode, out.decode()) == (0, f"{process.pid}\n"), side


class Held:
    """The test process holds an flock on a file (as another setlock would)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@pytest.fixture
def held(work: Path) -> Iterator[Held]:
    lock = Held(work / "lock")
    yield lock
    lock.release()


@pytest.mark.parametrize("flags", [["-n"], ["-Nn"], ["-N", "-n"]])
def test_setlock_n_fails_at_once(work: Path, held: Held, flags: list[str]) -> None:
    """Lock taken and -n last: ``unable to lock FILE: temporary failure``, 111, no child."""
    lock = work / "lock"
    debian = same("setlock", *flags, str(lock), "echo", "ran", cwd=work)
    assert (debian.code, debian.out) == (111, "")
    assert debian.err == f"setlock: fatal: unable to lock {lock}: temporary failure\n"


def wait_until_blocked_on_a_lock(process: subprocess.Popen[bytes]) -> None:
    """Wait until `process` sleeps in flock (``locks_lock_inode_wait``): it waits for the lock.

    Still running after a fixed time would also hold for a tool slow to start
    that then ignores the lock; the kernel's wait channel shows the wait itself.
    """
    deadline = time.monotonic() + PATIENCE
    while True:
        assert process.poll() is None, "did not wait for the lock"
        with open(f"/proc/{process.pid}/wchan") as wchan:
            if "lock_inode_wait" in wchan.read():
                return
        assert time.monotonic() < deadline, "never blocked on the lock"
        time.sleep(0.01)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("flags", [[], ["-N"], ["-nN"]])
def test_setlock_waits_for_the_lock(work: Path, held: Held, side: str, flags: list[str]) -> None:
    """Without -n (or -N last) setlock waits until the lock is free, then runs the child."""
    argv = command(side, "setlock", *flags, str(work / "lock"), "echo", "ran")
    process = subprocess.Popen(
        argv, cwd=work, env=BASE_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until_blocked_on_a_lock(process)
        held.release()
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (process.returncode, out, err) == (0, b"ran\n", b"")


@pytest.mark.parametrize(
    ("flags", "quiet"),
    [(["-nx"], True), (["-n", "-X", "-x"], True), (["-nxX"], False), (["-nX"], False)],
)
def test_setlock_x_when_locked(work: Path, held: Held, flags: list[str], quiet: bool) -> None:
    """-x (last of -x/-X): exit 0 quietly when the lock is taken; -X: the message and 111."""
    debian = same("setlock", *flags, str(work / "lock"), "echo", "ran", cwd=work)
    assert debian.out == ""
    assert (debian.code == 0 and debian.err == "") is quiet


@pytest.mark.parametrize(
    ("flags", "quiet"), [(["-x"], True), (["-X"], False), ([], False), (["-Xx"], True)]
)
def test_setlock_x_when_the_file_cannot_be_opened(
    work: Path, flags: list[str], quiet: bool
) -> None:
    """A file in a missing directory: -x exits 0 quietly; otherwise ``unable to open``, 111."""
    target = work / "missing" / "lock"
    debian = same("setlock", *flags, str(target), "echo", "ran", cwd=work)
    assert debian.out == ""
    if quiet:
        assert (debian.code, debian.err) == (0, "")
    else:
        assert debian.code == 111
        assert debian.err == f"setlock: fatal: unable to open {target}: file does not exist\n"


@pytest.mark.parametrize("kind", ["directory", "unwritable"])
def test_setlock_open_errors(work: Path, who: Callable[[], None] | None, kind: str) -> None:
    """A directory, a file nobody may write: the same ``unable to open`` text for both."""
    target = work / kind
    if kind == "directory":
        target.mkdir()
    else:
        target.write_text("")
        target.chmod(0o644)
    debian = same("setlock", str(target), "echo", "ran", cwd=work, preexec=who)
    if kind == "unwritable" and who is None:
        assert (debian.code, debian.out) == (0, "ran\n")
    else:
        assert debian.code == 111
        assert debian.err.startswith(f"setlock: fatal: unable to open {target}: ")


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o077])
def test_setlock_creates_the_file_0600(work: Path, umask: int) -> None:
    """A new lock file is mode 0600 (under the umask); an existing one is not truncated."""
    modes = {}
    for side in SIDES:
        target = work / f"lock-{side}"
        outcome = run(command(side, "setlock", str(target), "true"), work,
                      preexec=lambda: os.umask(umask))
        assert (outcome.code, outcome.err) == (0, "")
        modes[side] = stat.S_IMODE(target.stat().st_mode)
        target.write_bytes(b"data")
        outcome = run(command(side, "setlock", str(target), "true"), work)
        assert target.read_bytes() == b"data"
    assert modes["ours"] == modes["debian"] == 0o600 & ~umask


@pytest.mark.parametrize(
    ("args", "first"),
    [([], ""), (["file"], ""), (["-z", "f", "true"], "setlock: illegal option -- z\n"),
     (["-nz", "f", "true"], "setlock: illegal option -- z\n")],
    ids=["nothing", "no-child", "illegal", "illegal-in-cluster"],
)
def test_setlock_usage(work: Path, args: list[str], first: str) -> None:
    """Usage errors: the same lines and exit 100; no lock file is created."""
    debian = same("setlock", *args, cwd=work)
    assert (debian.code, debian.err) == (100, first + SETLOCK_USAGE)
    assert not (work / "f").exists() and not (work / "file").exists()


# ---------------------------------------------------------------- pgrphack

PGRP_SCRIPT = "echo $$; ps -o pgid= -o sid= -p $$"


@pytest.mark.parametrize("new_session", [False, True], ids=["child", "session-leader"])
def test_pgrphack_new_session_same_pid(work: Path, new_session: bool) -> None:
    """The child is the pid we started, leader of its own session and process group."""
    for side in SIDES:
        argv = command(side, "pgrphack", "sh", "-c", PGRP_SCRIPT)
        process = subprocess.Popen(argv, cwd=work, env=BASE_ENV, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=new_session)
        out, err = process.communicate(timeout=TIMEOUT)
        assert (process.returncode, err) == (0, b""), side
        pid = str(process.pid)
        assert out.decode().split() == [pid, pid, pid], side
    assert os.getsid(0) != process.pid


def test_pgrphack_usage(work: Path) -> None:
    """No child: ``pgrphack: usage: pgrphack child``, exit 100."""
    debian = same("pgrphack", cwd=work)
    assert (debian.code, debian.err) == (100, "pgrphack: usage: pgrphack child\n")


# ---------------------------------------------------------------- all tools

def tool_prefix(tool: str, work: Path) -> list[str]:
    """The arguments that come before the child for each tool."""
    if tool == "envdir":
        directory = work / "envdir-empty"
        directory.mkdir(exist_ok=True)
        return [str(directory)]
    if tool in ("envuidgid", "setuidgid"):
        return ["nobody"]
    if tool == "softlimit":
        return ["-c", "0"]
    if tool == "setlock":
        return [str(work / "tool-lock")]
    return []


TOOLS = ["envdir", "envuidgid", "setuidgid", "softlimit", "setlock", "pgrphack"]


@pytest.mark.parametrize("tool", TOOLS)
def test_exec_keeps_the_pid(work: Path, tool: str) -> None:
    """Every tool execs its child: the pid the child prints is the pid we started."""
    for side in SIDES:
        argv = command(side, tool, *tool_prefix(tool, work), "sh", "-c", "echo $$")
        process = subprocess.Popen(argv, cwd=work, env=BASE_ENV, stdout=subprocess.PIPE)
        out, _ = process.communicate(timeout=TIMEOUT)
        assert (process.returncode, out.decode()) == (0, f"{process.pid}\n"), (tool, side)


def ignore_and_block() -> None:
    """preexec_fn: start the tool with SIGHUP and SIGINT ignored and SIGUSR2 blocked."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})


@pytest.mark.parametrize("start", ["default", "ignoring"])
@pytest.mark.parametrize("tool", TOOLS)
def test_signal_dispositions_pass_through(work: Path, tool: str, start: str) -> None:
    """The child's ignored and blocked signals (and ids) are what Debian's tool leaves it."""
    preexec = ignore_and_block if start == "ignoring" else None
    debian = same(tool, *tool_prefix(tool, work), "cat", "/proc/self/status",
                  cwd=work, preexec=preexec, view=status_view)
    assert debian.code == 0
    sigign = int(next(line for line in status_view(debian.out) if line.startswith("SigIgn:"))
                 .split()[1], 16)
    hup_ignored = bool(sigign & (1 << (signal.SIGHUP - 1)))
    pipe_ignored = bool(sigign & (1 << (signal.SIGPIPE - 1)))
    assert hup_ignored is (start == "ignoring")
    assert not pipe_ignored


def make_unrunnable(work: Path) -> None:
    """bin/plain (not executable), bin/adir (a directory), bin/garbage (no #!, not ELF)."""
    bin_dir = work / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "plain").write_text("#!/bin/sh\necho plain\n")
    (bin_dir / "plain").chmod(0o644)
    (bin_dir / "adir").mkdir(exist_ok=True)
    (bin_dir / "garbage").write_bytes(b"\x7fXYZ not a program\n")
    (bin_dir / "garbage").chmod(0o755)
    (work / "here").write_text("#!/bin/sh\necho here\n")
    (work / "here").chmod(0o755)


#: case -> (child name, PATH, expected error text after "unable to run NAME: ", or None: runs)
RUN_CASES = {
    "missing": ("tsv-no-such-program", "/usr/bin:/bin", "file does not exist"),
    "missing-path": ("./bin/nothing", "/usr/bin:/bin", "file does not exist"),
    "not-executable": ("./bin/plain", "/usr/bin:/bin", "access denied"),
    "not-executable-on-path": ("plain", "{work}/bin:/usr/bin:/bin", "access denied"),
    "directory-on-path": ("adir", "{work}/bin:/usr/bin:/bin", "access denied"),
    "directory": ("./bin/adir", "/usr/bin:/bin", "access denied"),
    "exec-format": ("./bin/garbage", "/usr/bin:/bin", "exec format error"),
    "later-on-path": ("plain", "{work}/bin:{work}", None),
    "empty-path-entry": ("here", ":/usr/bin", None),
}


@pytest.mark.parametrize("case", sorted(RUN_CASES))
@pytest.mark.parametrize("tool", TOOLS)
def test_unable_to_run(work: Path, tool: str, case: str) -> None:
    """The child cannot be run: ``TOOL: fatal: unable to run NAME: why``, 111, same text."""
    make_unrunnable(work)
    if case == "later-on-path":
        (work / "plain").write_text("#!/bin/sh\necho later\n")
        (work / "plain").chmod(0o755)
    name, path, why = RUN_CASES[case]
    env = dict(BASE_ENV, PATH=path.format(work=work))
    debian = same(tool, *tool_prefix(tool, work), name, cwd=work, env=env)
    if why is None:
        assert (debian.code, debian.err) == (0, "")
        assert debian.out in ("later\n", "here\n")
    else:
        assert (debian.code, debian.out) == (111, "")
        assert debian.err == f"{tool}: fatal: unable to run {name}: {why}\n"

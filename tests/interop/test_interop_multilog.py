"""svlog against Debian's multilog, and our tai64nlocal against Debian's.

The same input goes to ``/usr/bin/multilog SCRIPT`` and to ``.venv/bin/svlog SCRIPT``
in two scratch directories; the directories must then hold the same files: the same
names once each archive's label is replaced by its rank, the same modes, and the same
bytes once each line's label is replaced by ``@LABEL`` (labels are times). The input is
a regular file, so multilog reads it 1024 bytes at a time: then even the places where
files end are multilog's, byte for byte. Through a pipe, where reads depend on timing,
the lines must still be the same. One difference is deliberate: a line longer than
about 2000 bytes that multilog would split between two files at ``sSIZE`` is kept whole.
"""

from __future__ import annotations

import fcntl
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import PATIENCE, peer

SVLOG = str(Path(sys.executable).parent / "svlog")
TAI64NLOCAL = str(Path(sys.executable).parent / "tai64nlocal")
LABEL = re.compile(rb"^@[0-9a-f]{24} ", re.MULTILINE)
SIDES = ("multilog", "svlog")


def program(side: str) -> str:
    return peer("multilog") if side == "multilog" else SVLOG


def text_input(seed: int, size: int, longest: int = 1500) -> bytes:
    """Lines of every kind: short, empty, past multilog's 1000-byte head; no final newline.

    Only x, y, z, space and punctuation: a pattern of those letters cannot match a label's
    hex digits, so selection does not depend on the time.
    """
    rng = random.Random(seed)
    lines = []
    total = 0
    while total < size:
        roll = rng.random()
        length = (rng.randint(900, longest) if roll < 0.05 else 0 if roll < 0.1
                  else rng.randint(1, 200))
        line = bytes(rng.choice(b"xyz *@-.:") for _ in range(length))
        lines.append(line)
        total += length + 1
    return b"\n".join(lines)


def run(side: str, script: list[str], stdin: Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    with open(stdin, "rb") as source:
        return subprocess.run([program(side), *script], stdin=source, cwd=cwd,
                              capture_output=True, timeout=60, check=False)


def listing(log: Path) -> dict[str, tuple[int, bytes]]:
    """name -> (mode, bytes), archives named by rank and suffix, labels hidden."""
    names = sorted(os.listdir(log))
    ranked = {name: f"@{rank}{name[25:]}"
              for rank, name in enumerate(n for n in names if n.startswith("@"))}
    return {
        ranked.get(name, name): (
            stat.S_IMODE((log / name).stat().st_mode),
            LABEL.sub(b"@LABEL ", (log / name).read_bytes()),
        )
        for name in names
    }


def both(tmp_path: Path, script: list[str], data: bytes) -> dict[str, Path]:
    """Run each side on `data` in its own directory; their exit codes and stderr must agree."""
    source = tmp_path / "input"
    source.write_bytes(data)
    results = {}
    cwds = {}
    for side in SIDES:
        cwds[side] = tmp_path / side
        cwds[side].mkdir()
        results[side] = run(side, script, source, cwds[side])
    assert results["svlog"].returncode == results["multilog"].returncode == 0
    assert LABEL.sub(b"@LABEL ", results["svlog"].stderr) == LABEL.sub(
        b"@LABEL ", results["multilog"].stderr
    )
    return cwds


SCRIPTS = [
    ["t", "./main"],
    ["./main"],
    ["t", "s4096", "n3", "./main"],
    ["s4096", "n5", "./main"],
    ["t", "s5000", "n100", "./main"],
    ["t", "s4096", "n4", "./one", "s6000", "n3", "./two"],
    ["t", "-*", "+@*x*", "s4096", "./picked", "e", "+*", "n2", "./all"],
    ["+*", "-x*", "-*z", "./main", "e"],
    ["t", "e"],
    # no file ends: svlog selects whole reads with regular expressions
    ["t", "s16777215", "-*", "+@*x*", "./picked", "e", "+*", "./all"],
    ["s16777215", "-*y*", "-**", "./main", "e"],
]


@pytest.mark.parametrize("script", SCRIPTS, ids=" ".join)
@pytest.mark.parametrize("seed", [1, 2])
def test_same_files_byte_for_byte(tmp_path: Path, script: list[str], seed: int) -> None:
    cwds = both(tmp_path, script, text_input(seed, 120_000))
    directories = [arg for arg in script if arg[0] in "./"]
    assert sorted(os.listdir(cwds["svlog"])) == sorted(os.listdir(cwds["multilog"]))
    for directory in directories:
        ours, theirs = listing(cwds["svlog"] / directory), listing(cwds["multilog"] / directory)
        assert ours.keys() == theirs.keys()
        for name in theirs:
            assert ours[name] == theirs[name], f"{directory}/{name} differs"


def test_long_lines_same_bytes_never_split(tmp_path: Path) -> None:
    """Lines up to 6000 bytes with s4096: multilog cuts some at 4096 bytes, in the middle;
    svlog ends those files after the line. Nothing pruned (n1000): the same bytes in all."""
    cwds = both(tmp_path, ["t", "s4096", "n1000", "./main"], text_input(3, 150_000, 6000))
    whole = {}
    for side in SIDES:
        log = cwds[side] / "main"
        files = [log / name for name in sorted(os.listdir(log)) if name.startswith("@")]
        files.append(log / "current")
        whole[side] = LABEL.sub(b"@LABEL ", b"".join(f.read_bytes() for f in files))
        bodies = [f.read_bytes() for f in files]
        whole_lines = all(body.endswith(b"\n") and LABEL.match(body) for body in bodies if body)
        assert whole_lines is (side == "svlog")  # multilog split some line (current may be empty)
    assert whole["svlog"] == whole["multilog"]


def test_same_lines_through_a_pipe(tmp_path: Path) -> None:
    """From a pipe, where reads depend on timing: the same lines, in the same order."""
    data = text_input(4, 300_000)
    lines = {}
    for side in SIDES:
        (tmp_path / side).mkdir()
        process = subprocess.Popen([program(side), "t", "s4096", "n1000", "./main"],
                                   stdin=subprocess.PIPE, cwd=tmp_path / side)
        try:
            process.communicate(data, timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == 0
        log = tmp_path / side / "main"
        names = sorted(name for name in os.listdir(log) if name.startswith("@")) + ["current"]
        lines[side] = LABEL.sub(b"", b"".join((log / name).read_bytes() for name in names))
    assert lines["svlog"] == lines["multilog"] == data + b"\n"


@pytest.mark.parametrize(("first", "second"), [("multilog", "svlog"), ("svlog", "multilog")])
def test_one_continues_the_others_directory(tmp_path: Path, first: str, second: str) -> None:
    """A directory left by one is taken over by the other: after SIGKILL current becomes
    @LABEL.u, after a clean exit it is appended to, and the archives count towards n."""
    source = tmp_path / "input"
    source.write_bytes(b"after\n")
    process = subprocess.Popen([program(first), "t", "n3", "./main"], stdin=subprocess.PIPE,
                               cwd=tmp_path)
    try:
        assert process.stdin is not None
        process.stdin.write(b"before kill\n")
        process.stdin.flush()
        current = tmp_path / "main" / "current"
        deadline = time.monotonic() + PATIENCE
        while not (current.exists() and current.read_bytes().endswith(b"before kill\n")):
            assert time.monotonic() < deadline, "first logger wrote nothing"
            time.sleep(0.02)
        process.kill()
    finally:
        process.kill()
        process.wait()
        if process.stdin is not None:
            process.stdin.close()
    assert run(second, ["t", "n3", "./main"], source, tmp_path).returncode == 0
    assert run(first, ["t", "n3", "./main"], source, tmp_path).returncode == 0
    assert run(second, ["t", "n3", "./main"], source, tmp_path).returncode == 0
    files = listing(tmp_path / "main")
    assert sorted(files) == ["@0.u", "current", "lock", "state"]
    assert files["@0.u"] == (0o644, b"@LABEL before kill\n")
    assert files["current"] == (0o744, b"@LABEL after\n" * 3)


def test_locked_directory_same_refusal(tmp_path: Path) -> None:
    log = tmp_path / "main"
    log.mkdir()
    source = tmp_path / "input"
    source.write_bytes(b"x\n")
    with open(log / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        results = {side: run(side, ["t", "./main"], source, tmp_path) for side in SIDES}
    assert results["svlog"].returncode == results["multilog"].returncode == 111
    assert results["multilog"].stderr == (
        b"multilog: fatal: unable to lock directory ./main: temporary failure\n"
    )
    assert results["svlog"].stderr == results["multilog"].stderr.replace(b"multilog", b"svlog")


@pytest.mark.parametrize("side", SIDES)
def test_sigterm_mid_line(tmp_path: Path, side: str) -> None:
    """TERM with half a line read: both wait for its end, log it, exit 0, and leave
    what follows in the pipe. (ALRM after TERM: once its archive exists, the TERM has
    been seen: multilog takes both when its read is interrupted.)"""
    reader, writer = os.pipe()
    log = tmp_path / "main"
    process = subprocess.Popen([program(side), "t", "./main"], stdin=reader, cwd=tmp_path)
    try:
        os.write(writer, b"one\npart")
        deadline = time.monotonic() + PATIENCE
        while not ((log / "current").exists() and (log / "current").read_bytes()):
            assert time.monotonic() < deadline, "nothing logged"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGALRM)
        while not any(name.startswith("@") for name in os.listdir(log)) or (
            log / "previous"
        ).exists():
            assert time.monotonic() < deadline, "no rotation"
            time.sleep(0.02)
        assert process.poll() is None
        os.write(writer, b"ial\nleft\n")
        assert process.wait(PATIENCE) == 0
        assert os.read(reader, 100) == b"left\n"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(reader)
        os.close(writer)
    assert listing(log)["current"] == (0o744, b"@LABEL partial\n")


# --- tai64nlocal ---------------------------------------------------------------------------

LABELS = (
    b"@400000006b02115a3877aa64 one\n"
    b"@400000006b02115a3877aa64\n"
    b"plain line\n"
    b"\n"
    b"x@400000006b02115a3877aa64 not at the start\n"
    b"@400000000000000a000001f4 epoch\n"
    b"@4000000065000000000001f4 2023\n"
    b"@400000007fffffff3b9ac9ff late\n"
    b"@400000006b02115a3877aa64F uppercase ends the digits\n"
    b"@400000006b02115a3877aa64 last line without newline"
)


def tai64nlocal(tool: str, data: bytes, zone: str) -> bytes:
    env = {"PATH": "/usr/bin:/bin", "TZ": zone}
    result = subprocess.run([tool], input=data, capture_output=True, env=env, timeout=30,
                            check=True)
    return result.stdout


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York"])
def test_tai64nlocal_same_output(zone: str) -> None:
    assert tai64nlocal(TAI64NLOCAL, LABELS, zone) == tai64nlocal(peer("tai64nlocal"), LABELS,
                                                                 zone)


def test_tai64nlocal_reads_the_others_labels(tmp_path: Path) -> None:
    """Debian's tai64nlocal reads svlog's current, ours reads multilog's: the same text
    as the other tool makes of it."""
    cwds = both(tmp_path, ["t", "./main"], text_input(5, 20_000))
    for side in SIDES:
        current = (cwds[side] / "main" / "current").read_bytes()
        ours = tai64nlocal(TAI64NLOCAL, current, "Europe/Paris")
        assert ours == tai64nlocal(peer("tai64nlocal"), current, "Europe/Paris")
        assert not LABEL.search(ours)

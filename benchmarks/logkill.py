"""The logger soak (issue 16): svlog SIGKILLed again and again under a steady writer.

Why: svlog takes a line from its pipe only once the line is written (`svlog.peek`), so a
logger killed at any moment leaves every line it has not written to the next one, which
svscan's supervise starts on the same pipe a second later. The tests check that on a
small scale; this runs it long: our svscan, a service writing numbered lines of 100
bytes at `rate` bytes a second in 8 KiB writes (as a block-buffered program does, so
the pipe often ends in the middle of a line), and ``log/run`` = ``exec svlog t ...``.
Each new svlog is left to work for a random 0.05-0.5 s, then killed with SIGKILL.

Afterwards the writer is stopped (it ends with ``end N``, N its last number) and every
file of the log directory is read in order: each number 1..N must be there (lost: 0),
and within a file the numbers must follow each other (a file may begin again a little
before where the one before it ended: those repeats are the duplicates, counted; a
line the kill cut in the middle of a write ends a ``.u`` file, and is counted apart).
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchmarks.clients import BIN

LINE = 100  # bytes, newline included
WRITER = """\
import os, signal, sys, time
rate, chunk, pad = int(sys.argv[1]), 8192, b"x" * 86
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
number, sent, pending, began = 0, 0, bytearray(), time.monotonic()
def out(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
while not stopping:
    while len(pending) < chunk:
        number += 1
        pending += b"%012d %s\\n" % (number, pad)
    out(pending[:chunk])
    del pending[:chunk]
    sent += chunk
    ahead = sent / rate - (time.monotonic() - began)
    if ahead > 0:
        time.sleep(ahead)
out(bytes(pending) + b"end %d\\n" % number)
"""
SCRIPT = "t s16777215 n10000"
_LABELLED = re.compile(rb"@[0-9a-f]{24} (.*)")


def logger_soak(scratch: Path, kills: int, rate: int) -> dict[str, str]:
    """`kills` SIGKILLs of svlog under a writer of `rate` bytes a second; the figures."""
    from benchmarks.soak import Scanner, pid_of, service, wait_for  # soak runs this one

    root = scratch / "logkill"
    writer = service(root, "numbers", f"#!/bin/sh\nexec {BIN / 'python'} ./writer.py {rate}\n")
    (writer / "writer.py").write_text(WRITER)
    log = service(writer, "log", f"#!/bin/sh\nexec {BIN / 'svlog'} {SCRIPT} ./main\n")
    main = log / "main"
    chance = random.Random(16)
    scanner = Scanner(root)
    wait_for(lambda: pid_of(writer) and pid_of(log), "the writer and its logger up")
    began = time.monotonic()
    for _ in range(kills):
        pid = pid_of(log)
        time.sleep(chance.uniform(0.05, 0.5))  # how long this logger works: not a result
        _kill_svlog(pid)
        wait_for(partial(_replaced, pid_of, log, pid), "svlog started again")
    elapsed = time.monotonic() - began
    with open(writer / "supervise" / "control", "wb") as control:
        control.write(b"d")
    wait_for(lambda: _ended(main), "the writer's end line logged")
    code = scanner.stop()
    found = count(main)
    lost = found["last"] - found["distinct"]
    ok = (lost == 0 and found["disordered"] == found["malformed"] == 0 and found["last"] > 0
          and code == 0)
    return {
        "svlog SIGKILLed": f"{kills} (each after 0.05-0.5 s of work; supervise starts it "
                           f"again, at most once a second, the writer waiting meanwhile)",
        "writer": f"{rate / 1e6:.0f} MB/s asked, {LINE}-byte numbered lines in 8 KiB writes; "
                  f"{found['last'] * LINE / elapsed / 1e6:.1f} MB/s got through over "
                  f"{elapsed:.0f} s",
        "logger": f"`svlog {SCRIPT} ./main` under our svscan",
        "lines written": f"{found['last']:,}",
        "lines lost": f"{lost:,}",
        "lines logged twice (written, killed before taken from the pipe)":
            f"{found['repeated']:,} in {found['restarts']} of {kills} restarts",
        "lines cut by the kill in the middle of a write (then logged whole)":
            f"{found['cut']:,}",
        "lines out of order within a file": f"{found['disordered']:,}",
        "lines not whole (a part of a line logged as a line)": f"{found['malformed']:,}",
        "svscan exit code": str(code),
        "verdict": "ok" if ok else "FAILED",
    }


def _replaced(pid_of: Callable[[Path], int], log: Path, old: int) -> bool:
    return pid_of(log) not in (0, old)


def _kill_svlog(pid: int) -> None:
    """SIGKILL to `pid` if it still is an svlog (by pid, checked, never by name)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if b"svlog" not in cmdline.read():
                return
        os.kill(pid, signal.SIGKILL)
    except (FileNotFoundError, ProcessLookupError):
        pass


def _ended(main: Path) -> bool:
    try:
        with open(main / "current", "rb") as current:
            current.seek(max(0, current.seek(0, 2) - 200))
            return re.search(rb" end \d+\n$", current.read()) is not None
    except OSError:
        return False


def count(main: Path) -> dict[str, int]:
    """Read every file of `main` in order: the last number (from ``end N``), how many
    distinct numbers, repeats, restarts that repeated, cut lines, disorder in a file,
    lines that are not whole."""
    files = sorted(p for p in main.iterdir() if p.name.startswith("@")) + [main / "current"]
    seen: set[int] = set()
    found = dict.fromkeys(("last", "distinct", "repeated", "restarts", "cut", "disordered",
                           "malformed"), 0)
    previous = 0  # the number before, across files
    for path in files:
        data = path.read_bytes()
        lines = data.split(b"\n")
        if lines[-1]:  # a write cut by SIGKILL: the next logger wrote the line again
            found["cut"] += 1
        expected = None
        for line in lines[:-1]:
            match = _LABELLED.fullmatch(line)
            text = match[1] if match else b""
            if text.startswith(b"end "):
                found["last"] = int(text[4:])
                continue
            if not (len(text) == LINE - 1 and text[:12].isdigit()):
                found["malformed"] += 1  # part of a line: a lost beginning, say
                expected = None
                continue
            number = int(text[:12])
            if expected is not None and number != expected:
                found["disordered"] += 1
            if expected is None and 0 < number <= previous:
                found["restarts"] += 1
            if number in seen:
                found["repeated"] += 1
            seen.add(number)
            expected = number + 1
            previous = max(previous, number)
    found["distinct"] = len(seen)
    return found

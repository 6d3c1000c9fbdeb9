"""What a supervised program inherited from its supervisor, read from /proc.

Each program notes its pid in ``./NAME-pid``, then execs a program that stays:
what the test reads in /proc is what the supervisor handed on, through the
shell's exec (reading /proc/$$ from inside the shell would not do: dash blocks
every signal while it vforks the reader).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import eventually

RUN = "echo $$ > run-pid; exec sleep 1000"
#: What `inherited` reads from /proc/PID/status.
FIELDS = ("SigIgn", "SigBlk", "Umask")
#: The umask the test runs the daemons with; they hand it on unchanged.
UMASK = 0o027
#: What a C supervisor hands on when started by a parent that ignores and blocks nothing.
PRISTINE = {
    "SigIgn": "0000000000000000", "SigBlk": "0000000000000000", "Umask": f"{UMASK:04o}",
    "fds": "0 1 2",
}


def inherited(pid: int) -> dict[str, str]:
    """The signal sets and umask of `pid`, and its open descriptors (``"0 1 2"``)."""
    with open(f"/proc/{pid}/status") as f:
        lines = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    fds = sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
    return {**{field: lines[field] for field in FIELDS}, "fds": " ".join(map(str, fds))}


async def recorded(path: Path, program: str) -> dict[str, str]:
    """What the process whose pid is in `path` inherited, once it has exec'd `program` and
    waits (``sleep``, or ``cat`` reading): a descriptor it opens while it starts is not
    inherited."""

    def execed() -> int:
        pid = int(path.read_text())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if f.read().split(b"\0")[0] != program.encode():
                return 0
        with open(f"/proc/{pid}/stat") as f:  # asleep: past its start-up (locale files...)
            return pid if f.read().rsplit(")", 1)[1].split()[0] == "S" else 0

    pid = await eventually(execed, what=f"{path.name}: {program} running")
    assert isinstance(pid, int)
    return inherited(pid)


@pytest.fixture
def clean_parent() -> Iterator[None]:
    """Start the daemons from a parent that ignores nothing and has umask `UMASK`.

    A test runner started in the background ignores INT and QUIT, and a C
    supervisor would pass that on; SIGPIPE, which Python ignores, is
    restored by subprocess.
    """
    ignored = [
        signum for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM)
        if signal.getsignal(signum) == signal.SIG_IGN
    ]
    for signum in ignored:
        signal.signal(signum, signal.SIG_DFL)
    before = os.umask(UMASK)
    yield
    os.umask(before)
    for signum in ignored:
        signal.signal(signum, signal.SIG_IGN)

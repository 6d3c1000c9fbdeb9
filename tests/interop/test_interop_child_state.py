"""The same service under Debian's ``supervise`` and under ours inherits the same state.

Signals ignored and blocked, umask and open descriptors of ./run, read in
/proc once it has exec'd: a drop-in hands over what daemontools' supervise
hands over when it is started cleanly (nothing ignored, nothing blocked, fds
0-2). daemontools passes on what it inherited, so it is started here with
every disposition default and only fds 0-2: a test runner started by ``make`` (which spawns
through glibc's posix_spawn) inherits signal 32 ignored, and Python cannot
reset it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from child_state import PRISTINE, RUN, recorded
from child_state import clean_parent as clean_parent  # the fixture
from interop.interop_support import descendants_of
from supervise import spawn
from support import make_service, peer

pytestmark = pytest.mark.usefixtures("clean_parent")


@contextlib.contextmanager
def kept_from_children() -> Iterator[None]:
    """Our inheritable descriptors above 2 (make's jobserver, say) made close-on-exec for
    the moment: a clean parent hands on only 0-2, as subprocess does."""
    inheritable = []
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        with contextlib.suppress(OSError):
            if fd > 2 and os.get_inheritable(fd):
                os.set_inheritable(fd, False)
                inheritable.append(fd)
    try:
        yield
    finally:
        for fd in inheritable:
            os.set_inheritable(fd, True)


@contextlib.contextmanager
def daemontools_supervise(service: Path) -> Iterator[int]:
    """Debian's supervise on `service`, started with every signal default; at the end it
    is frozen, then it and everything it started are killed by pid."""
    with open(service.parent / "peer.out", "wb") as output, kept_from_children():
        here = os.open(service.parent, os.O_RDONLY | os.O_CLOEXEC)
        try:
            pid = spawn.spawn(
                here, peer("supervise"), [str(service)], spawn.Environment(os.environb),
                fds={1: output.fileno(), 2: output.fileno()},
            )
        finally:
            os.close(here)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGSTOP)
        children = descendants_of(pid)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)  # reparented to us, the subreaper


async def test_run_inherits_what_daemontools_supervise_hands_on(
    tmp_path: Path, start_daemon: Any
) -> None:
    theirs = make_service(tmp_path, "theirs", RUN)
    ours = make_service(tmp_path, "ours", RUN)
    with daemontools_supervise(theirs):
        start_daemon(ours)
        under_daemontools = await recorded(theirs / "run-pid", "sleep")
        under_ours = await recorded(ours / "run-pid", "sleep")
    assert under_ours == under_daemontools
    assert under_ours == PRISTINE

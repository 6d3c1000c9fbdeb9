"""The same service under Debian's ``supervise`` and under ours inherits the same state.

Signals ignored and blocked, umask and open descriptors of ./run, read in
/proc once it has exec'd: a drop-in hands over what daemontools' supervise
hands over (which is: nothing ignored, nothing blocked, fds 0-2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from child_state import PRISTINE, RUN, recorded
from child_state import clean_parent as clean_parent  # the fixture
from interop.interop_support import PeerSupervisors
from interop.interop_support import peers_fixture as peers_fixture  # the `peers` fixture
from support import make_service

pytestmark = pytest.mark.usefixtures("clean_parent")


async def test_run_inherits_what_daemontools_supervise_hands_on(
    tmp_path: Path, start_daemon: Any, peers: PeerSupervisors
) -> None:
    theirs = make_service(tmp_path, "theirs", RUN)
    ours = make_service(tmp_path, "ours", RUN)
    peers.start("supervise", theirs)
    start_daemon(ours)
    under_daemontools = await recorded(theirs / "run-pid", "sleep")
    under_ours = await recorded(ours / "run-pid", "sleep")
    assert under_ours == under_daemontools
    assert under_ours == PRISTINE

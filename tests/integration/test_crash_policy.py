"""The crash-loop policy with real processes: a ./run that exits at once until told not to.

``backoff-max``: the waits between restarts grow (1 s, then 2 s), svstat says until
when, ``svc -u -wu`` waits through the back-off (or names it when its deadline comes
first) and ``u`` starts nothing early. ``permafail-deaths``/``permafail-secs``: the
third death within the window leaves the service down for good, ``svc -wu`` gives up
at once, and ``svc -u`` starts it again. The timing rules themselves are tested in
virtual time (tests/unit/test_machine.py, test_service_driver.py); these take a few
seconds each.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from supervise.status import ExtraFlag, RunState, Want
from support import client, eventually, make_service, read_extra, read_status, svc_wait

#: Exits 1 at once until the file ``ok`` exists, then runs.
CRASHING = "[ -e ok ] && exec sleep 1000; exit 1"
GENEROUS = "15000"


def backoff_left(service: Path) -> float:
    """Seconds until the start the back-off holds, or 0 when not backing off."""
    record, extra = read_status(service), read_extra(service)
    if record.pid or not extra.flags & ExtraFlag.BACKOFF or extra.backoff_until is None:
        return 0.0
    return extra.backoff_until.unix() - time.time()


async def test_backoff_svstat_and_svc_wu(tmp_path: Path, start_daemon: Any) -> None:
    """Two quick deaths: a 2 s wait, which svstat shows and ``svc -u -wu`` waits through."""
    service = make_service(tmp_path, "crashy", CRASHING, backoff_max="2000\n")
    start_daemon(service)
    await eventually(lambda: backoff_left(service) > 1.2, what="a back-off of 2 s")
    until = read_extra(service).backoff_until
    assert until is not None
    line = client("svstat", service).stdout
    assert re.fullmatch(
        rf"{service}: down \d+ seconds, normally up, want up, "
        r"backing off: next start in [12] seconds, exited 1\n", line), line
    fields = client("svstat", "-o", "backoff,backoffuntil,backoffleft", service).stdout.split()
    assert fields[:2] == ["true", f"@{until.hex()}"] and fields[2] in ("1", "2"), fields
    # a deadline before the back-off ends: timed out, the back-off named, nothing started
    result, _ = await svc_wait("-u", "-wu", "-T", "300", "crashy", cwd=tmp_path)
    assert result.returncode == 99 and "backing off: next start in" in result.stderr, result
    assert read_status(service).pid == 0
    # within the deadline: up once the back-off is over, not before
    (service / "ok").write_text("")
    result, _ = await svc_wait("-u", "-wu", "-T", GENEROUS, "crashy", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, ""), result
    record = read_status(service)
    assert record.pid and record.run_state is RunState.RUN
    assert record.stamp.unix() >= until.unix() - 0.01
    assert not read_extra(service).flags & ExtraFlag.BACKOFF
    assert "backing off" not in client("svstat", service).stdout


async def test_gives_up_after_three_deaths(tmp_path: Path, start_daemon: Any) -> None:
    """permafail-deaths 3 within 60 s: down for good after the third (about 2 s, one start a
    second); ``svc -wu`` says so at once; ``svc -u -wu`` starts it again."""
    service = make_service(tmp_path, "quitter", CRASHING, permafail_deaths="3\n",
                           permafail_secs="60\n")
    start_daemon(service)

    def failed() -> bool:
        record = read_status(service)
        return bool(read_extra(service).flags & ExtraFlag.FAILED
                    and (record.pid, record.want) == (0, Want.DOWN))

    await eventually(failed, what="a permanent failure")
    first_down = read_status(service).stamp
    assert "failed permanently, exited 1" in client("svstat", service).stdout
    result, _ = await svc_wait("-wu", "-T", GENEROUS, "quitter", cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr == "svc: warning: quitter will not be up: failed permanently\n"
    assert read_status(service).stamp == first_down  # nothing started meanwhile
    (service / "ok").write_text("")
    result, _ = await svc_wait("-u", "-wu", "-T", GENEROUS, "quitter", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, ""), result
    assert read_status(service).pid and not read_extra(service).flags & ExtraFlag.FAILED

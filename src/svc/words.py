"""A directory's state in svstat's words: daemontools' line, then what only we can say.

Used by ``svstat`` and by the waiting library (``svc -w`` and ``qm-stop`` name
the state of what they are still waiting for in the same words).
"""

from __future__ import annotations

from supervise import layout
from svc.view import View


def classic(v: View, now: float) -> str:
    """daemontools' text after ``DIR: `` (svstat.c's order of suffixes)."""
    if v.error:
        return v.error
    assert v.status is not None
    status = v.status
    pid = status.pid
    age = layout.seconds_since(status.stamp.seconds, now)
    text = f"up (pid {pid}) {age} seconds" if pid else f"down {age} seconds"
    if pid and not v.normally_up:
        text += ", normally down"
    if not pid and v.normally_up:
        text += ", normally up"
    if pid and status.paused:
        text += ", paused"
    if not pid and status.want == layout.WANT_UP:
        text += ", want up"
    if pid and status.want == layout.WANT_DOWN:
        text += ", want down"
    return text


def extras(v: View, now: float) -> str:
    """What daemontools cannot say, from our xstatus; empty when none of it applies."""
    if v.extra is None:
        return ""
    text = ""
    stamp = v.ready_stamp
    if stamp is not None and v.flags & layout.NOTIFY:
        text += f", ready {layout.seconds_since(stamp.seconds, now)} seconds"
    if v.finishing:
        text += ", running finish"
    if v.failed_permanently:
        text += ", failed permanently"
    until = v.backoff_until
    if until is not None:
        text += f", backing off: next start in {layout.seconds_until(until.seconds, now)} seconds"
    ended = v.last_exit
    if ended is not None:
        code, signum = ended
        text += f", killed by {signal_name(signum)}" if signum else f", exited {code}"
    left = v.left
    if left:
        text += f", {left} process left" if left == 1 else f", {left} processes left"
    return text


def line(v: View, now: float) -> str:
    """The whole text after ``DIR: ``."""
    return classic(v, now) + extras(v, now)


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15. Imports `signal` (and with it enum) only when a name is needed."""
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIG{signum}"

"""``svstat --check``: one summary line and an exit code for monitoring.

After svstat's usual lines, one line for Nagios, Icinga, or a script that writes a
Prometheus textfile: each directory is counted once, by what a monitor cares about,
and the worst one sets the exit code, in the monitoring plugins' convention
(0 OK, 1 WARNING, 2 CRITICAL)::

    CRITICAL: 2 up, 1 down, 1 failed permanently, 0 backing off, 0 not supervised; \
critical: /service/smtpd | up=2 down=1 failed=1 backingoff=0 unsupervised=0

A service is, in this order: *not supervised* (no supervisor, or the directory cannot
be read: critical); *failed permanently* (its finish exited 125: critical); *up*
(./run running: OK); *backing off* (wanted up but not running, or running its finish:
the supervisor is restarting it, within a second or after a crash loop's back-off, see
``backoff-max``; a warning); else *down*, which is critical when the
service is normally up (no ``down`` file: someone stopped it) and OK when it is
normally down. Text after ``|`` is Nagios performance data.
"""

from __future__ import annotations

from supervise import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from svc.view import View

OK, WARNING, CRITICAL = 0, 1, 2
LEVEL_WORDS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL"}

#: (category, its name in the summary, its name in the performance data), in summary order
CATEGORIES = [
    ("up", "up", "up"),
    ("down", "down", "down"),
    ("failed", "failed permanently", "failed"),
    ("backing off", "backing off", "backingoff"),
    ("not supervised", "not supervised", "unsupervised"),
]


def judge(v: View) -> tuple[str, int]:
    """(category, level) of one directory as svstat read it."""
    if v.error:
        return "not supervised", CRITICAL
    if v.failed_permanently:
        return "failed", CRITICAL
    if v.up:
        return "up", OK
    if v.want == layout.WANT_UP:
        return "backing off", WARNING
    return "down", CRITICAL if v.normally_up else OK


def summary(views: list[tuple[str, View]]) -> tuple[str, int]:
    """(the summary line, the exit code) for (directory, view) pairs."""
    counts = dict.fromkeys([key for key, _, _ in CATEGORIES], 0)
    named: dict[int, list[str]] = {WARNING: [], CRITICAL: []}
    worst = OK
    for directory, v in views:
        category, level = judge(v)
        counts[category] += 1
        worst = max(worst, level)
        if level != OK:
            named[level].append(directory)
    text = ", ".join(f"{counts[key]} {word}" for key, word, _ in CATEGORIES)
    for level in (CRITICAL, WARNING):
        if named[level]:
            text += f"; {LEVEL_WORDS[level].lower()}: {' '.join(named[level])}"
    perf = " ".join(f"{label}={counts[key]}" for key, _, label in CATEGORIES)
    return f"{LEVEL_WORDS[worst]}: {text} | {perf}", worst

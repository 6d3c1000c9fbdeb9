"""svstat: one status line per service directory, as daemontools prints it.

``svstat dir ...`` prints daemontools' line byte for byte (``up (pid P) N
seconds, normally down, paused, want down`` ...), then what daemontools cannot
say, only when it applies and only from our own ``xstatus``: ``, ready N
seconds``, ``, running finish``, ``, failed permanently``, ``, backing off: next
start in N seconds`` (a crash loop's back-off, see ``backoff-max``), and how the
last run ended (``, exited 0`` or ``, killed by SIGTERM``), and, once ./run is
not running, what it left behind (``, 2 processes left``: its tree, see
`supervise.tree`). Always exits 0, as daemontools'.

For scripts: ``svstat -o field,field dir ...`` prints the fields' values,
space-separated, one line per directory (s6-svstat's field names and
spellings), and ``svstat --json dir ...`` one JSON object per line and
directory. The tree's fields: ``tree`` (``cgroup`` or ``session``), ``processes``
in it (./run included), ``left`` (the same, 0 while ./run runs), and with a cgroup
``memory`` (bytes, where its memory controller is on) and ``cpuusec`` (CPU time,
microseconds); -1 or null where unknown. These modes exit 0 when every directory
was read, 1 when some supervisor is not running, 111 when some directory could not
be read, 100 on a usage error. ``svstat --check dir ...`` prints the classic lines, then
one summary line, and exits 0, 1 or 2 as monitoring plugins do (`svc.check`).
"""

from __future__ import annotations

import sys
import time

from cmdline import exits, out
from cmdline.cwd import Origin
from cmdline.out import Usage, warn
from supervise import layout, tree
from supervise.record import STATE_WORDS, WANT_WORDS
from svc import check, view
from svc.view import View
from svc.words import classic, extras, signal_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # not at run time: collections.abc costs start-up time
    from collections.abc import Callable

    from supervise.tai import Tai64n

PROG = "svstat"
USAGE = "svstat: usage: svstat [ -o field,field... | --json | --check ] dir [dir ...]"
#: -o and --json: some supervisor is not running (an unreadable directory is exits.TEMPORARY)
NOT_RUNNING = 1

Value = bool | int | str | None


# --- fields for -o and --json (s6-svstat's names; ours after them) -----------------


def _label(stamp: Tai64n | None) -> str | None:
    return None if stamp is None else "@" + stamp.hex()


def _since(stamp: Tai64n | None, now: float) -> int | None:
    return None if stamp is None else layout.seconds_since(stamp.seconds, now)


def _left(stamp: Tai64n | None, now: float) -> int | None:
    return None if stamp is None else layout.seconds_until(stamp.seconds, now)


def _tree(v: View, count: Callable[[], int]) -> int | None:
    return None if v.followed is None else count()


def _usage(v: View) -> tuple[int | None, int | None]:
    return (None, None) if v.followed is None else tree.usage(*v.followed)


def _updown(v: View) -> Tai64n | None:
    return None if v.status is None else v.status.stamp


def _exit_code(v: View) -> int | None:
    ended = v.last_exit
    return ended[0] if ended and not ended[1] else None


def _signum(v: View) -> int | None:
    ended = v.last_exit
    return ended[1] if ended and ended[1] else None


def _signal(v: View) -> str | None:
    signum = _signum(v)
    return None if signum is None else signal_name(signum)


#: name -> (value of a View at a time, what -o prints for None as s6-svstat does)
FIELDS: dict[str, tuple[Callable[[View, float], Value], str]] = {
    "up": (lambda v, now: v.up, "false"),
    "wantedup": (lambda v, now: v.want == layout.WANT_UP, "false"),
    "normallyup": (lambda v, now: v.normally_up, "false"),
    "ready": (lambda v, now: v.ready, "false"),
    "paused": (lambda v, now: bool(v.pid and v.status and v.status.paused), "false"),
    "pid": (lambda v, now: v.pid if v.up else None, "-1"),
    "exitcode": (lambda v, now: _exit_code(v), "-1"),
    "signal": (lambda v, now: _signal(v), "NA"),
    "signum": (lambda v, now: _signum(v), "-1"),
    "updownsince": (lambda v, now: _label(_updown(v)), "NA"),
    "readysince": (lambda v, now: _label(v.ready_stamp), "NA"),
    "updownfor": (lambda v, now: _since(_updown(v), now), "-1"),
    "readyfor": (lambda v, now: _since(v.ready_stamp, now), "-1"),
    # ours: what only runit's or our records say
    "want": (lambda v, now: WANT_WORDS.get(v.want), "NA"),
    "state": (lambda v, now: STATE_WORDS.get(v.state), "NA"),
    "finishing": (lambda v, now: v.finishing, "false"),
    "failed": (lambda v, now: v.failed_permanently, "false"),
    "gotterm": (lambda v, now: bool(v.status and v.status.term_sent), "false"),
    "backoff": (lambda v, now: v.backoff_until is not None, "false"),
    "backoffuntil": (lambda v, now: _label(v.backoff_until), "NA"),
    "backoffleft": (lambda v, now: _left(v.backoff_until, now), "-1"),
    # the process tree (supervise/tree): how it is followed, what is in it
    "tree": (lambda v, now: None if v.followed is None else v.followed[0], "NA"),
    "processes": (lambda v, now: _tree(v, lambda: len(v.members())), "-1"),
    "left": (lambda v, now: _tree(v, lambda: v.left), "-1"),
    "memory": (lambda v, now: _usage(v)[0], "-1"),
    "cpuusec": (lambda v, now: _usage(v)[1], "-1"),
}


def field_text(value: Value, missing: str) -> str:
    if value is None:
        return missing
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fields_line(v: View, names: list[str], now: float) -> str:
    return " ".join(field_text(FIELDS[name][0](v, now), FIELDS[name][1]) for name in names)


def _json_line(directory: str, v: View, now: float) -> str:
    import json

    record: dict[str, Value] = {"dir": directory}
    if v.error:
        record["error"] = v.error
        record["running"] = False if v.fault == view.NOT_RUNNING else None
    else:
        record["running"] = True
        record.update((name, get(v, now)) for name, (get, _) in FIELDS.items())
    return json.dumps(record)


# --- the command ------------------------------------------------------------------------


def parse(argv: list[str]) -> tuple[str, list[str], list[str]]:
    """(mode, field names, directories); mode is "classic", "fields", "json" or "check".

    daemontools' svstat takes no options; ours are recognised only before the
    first directory, and ``--`` ends them.
    """
    mode, names = "classic", []
    args = list(argv)
    while args and args[0].startswith("-") and args[0] != "-":
        arg = args.pop(0)
        if arg == "--":
            break
        if arg == "--json":
            mode = "json"
        elif arg == "--check":  # svc.check: a summary line and a monitoring exit code
            mode = "check"
        elif arg.startswith("-o"):
            spec = arg[2:] or (args.pop(0) if args else "")
            names = [name for name in spec.split(",") if name]
            unknown = [name for name in names if name not in FIELDS]
            if not names or unknown:
                raise Usage(f"svstat: unknown field {','.join(unknown) or '(none)'}; "
                            f"fields: {','.join(FIELDS)}")
            mode = "fields"
        else:
            raise Usage(USAGE)
    return mode, names, args


def command(args: list[str]) -> int:
    mode, names, directories = parse(args)
    return _run(mode, names, directories)


def main(argv: list[str] | None = None) -> int:
    return out.run(PROG, command, argv)


def _run(mode: str, names: list[str], directories: list[str]) -> int:
    origin = Origin()
    lines: list[str] = []
    worst = exits.OK
    checked: list[tuple[str, View]] = []
    try:
        for directory in directories:
            v = view.read(directory)
            origin.back()
            now = time.time()
            if mode in ("classic", "check"):
                lines.append(f"{directory}: {classic(v, now)}{extras(v, now)}\n")
                checked.append((directory, v))
                continue
            if v.error:
                fault = NOT_RUNNING if v.fault == view.NOT_RUNNING else exits.TEMPORARY
                worst = max(worst, fault)
            if mode == "json":
                lines.append(_json_line(directory, v, now) + "\n")
            elif v.error:
                warn(f"unable to read status for {directory}: {v.error}")
            else:
                lines.append(_fields_line(v, names, now) + "\n")
        if mode == "check":
            text, worst = check.summary(checked)
            lines.append(text + "\n")
    finally:
        sys.stdout.write("".join(lines))
        sys.stdout.flush()
    return worst


if __name__ == "__main__":
    sys.exit(main())

"""svc: send control letters to the supervisors of service directories.

daemontools' ``svc`` exactly: option letters are collected in order with
duplicates dropped (at most 20), and the same bytes go to every directory in
one ``write``; a directory that cannot be controlled gets a warning and the
exit status stays 0; a bad option gets daemontools' two lines and exit 100.
Beyond daemontools: ``-q -1 -2`` (QUIT USR1 USR2, runit's and s6's letters) and
``-y`` (WINCH, s6's letter; ``-w`` is taken by waiting).

daemontools-encore's selectors: ``-+`` sends the signals of the letters after
it to the service's process group, ``-=`` to its main pid; ``-L`` sends the
letters after it to the log service, ``-l`` back to the main one (and back to
the default target). Duplicates are dropped within each ``-L``/``-l`` part, as
encore drops them. The log's part is written to ``DIR/log``'s own supervisor
when ``DIR/log`` is a directory (ours, daemontools', runit's, s6's layout), so
that a supervisor that knows no selector never takes it for the main
service's; else (encore's layout, a ``log`` program run by the same
supervise) it is written to ``DIR`` after an ``L``, as encore's svc writes it.
A part with ``+`` or ``=`` ends with ``l``, which puts the default target back
for whatever another client writes next.

Waiting, in s6-svc's style: ``-wu`` up, ``-wU`` up and ready, ``-wd`` down,
``-wD`` down with finish done, ``-wE`` down with finish done and the service's
process tree empty (what ./run left behind is gone: ours, not s6's), ``-wr``
restarted, ``-wR`` restarted and ready;
``-T ms`` is the deadline (0 or none: no deadline). Exit codes with ``-w``:
0 every directory got there, 99 the deadline passed for some directory (each
is named with its state), 1 some directory cannot get there (no supervisor,
or failed permanently). Nothing is ever killed on a timeout.
"""

from __future__ import annotations

import os
import sys
import time

from cmdline import exits, out
from cmdline.cwd import Origin
from cmdline.getopt import getopt
from cmdline.out import Usage
from supervise.alphabet import SVC_LETTERS, SVC_SELECTORS
from svc.send import send

PROG = "svc"
LETTERS = SVC_LETTERS  # the control alphabet's letters, but encore's w (-w waits)
MAX_LETTERS = 20  # daemontools' buffer
WAITS = "uUdDErR"
DAEMONTOOLS_OPTIONS = (
    "svc options: u up, d down, o once, x exit, p pause, c continue,"
    " h hup, a alarm, i interrupt, t term, k kill"
)
MORE_OPTIONS = (
    "svc also: q quit, 1 usr1, 2 usr2, y winch;"
    " + to the process group, = to the main pid, L to the log, l to the main service;"
    " -wu|-wU|-wd|-wD|-wE|-wr|-wR wait for up|ready|down|finished|finished with its process"
    " tree empty|restarted|restarted and ready;"
    " -T ms deadline"
)
#: -w: some directory could not be controlled at all (its wait found nothing amiss)
UNCONTROLLED = 1


class Options:
    __slots__ = ("data", "deadline_ms", "directories", "log_parts", "wait")

    def __init__(self) -> None:
        self.data = b""
        self.log_parts: list[str] = []
        self.wait = ""
        self.deadline_ms = 0
        self.directories: list[str] = []


USAGE = f"{DAEMONTOOLS_OPTIONS}\n{MORE_OPTIONS}"


def parse(argv: list[str]) -> Options:
    """getopt(3) as djb's sgetopt (`cmdline.getopt`), then daemontools' letter rules."""
    options = Options()
    parts: list[tuple[bool, str]] = [(False, "")]  # (for the log, letters), from -L/-l on
    taken = 0
    pairs, options.directories = getopt(argv, LETTERS + SVC_SELECTORS, "wT", USAGE)
    for letter, value in pairs:
        if letter in "wT":
            _set(options, letter, value)
        elif taken >= MAX_LETTERS:
            continue
        elif letter in "Ll":
            parts.append((letter == "L", ""))
            taken += 1
        elif letter not in parts[-1][1]:
            parts[-1] = (parts[-1][0], parts[-1][1] + letter)
            taken += 1
    useful = [(log, part) for log, part in parts if part.strip(SVC_SELECTORS)]
    options.data = _joined([part for log, part in useful if not log])
    options.log_parts = [part for log, part in useful if log]
    return options


def _joined(parts: list[str]) -> bytes:
    """Parts for one supervisor in one write: each starts from the default target (``l``),
    and so does what follows a part with ``+`` or ``=``."""
    data = "l".join(parts)
    if "+" in data or "=" in data:
        data += "l"
    return data.encode()


def _send_log(directory: str, parts: list[str]) -> bool:
    """The ``-L`` parts: to ``DIR/log``'s supervisor, or after ``L`` to DIR's (encore's)."""
    log = os.path.join(directory, "log")
    if os.path.isdir(log):
        return send(log, _joined(parts))
    return send(directory, ("".join("L" + part for part in parts) + "l").encode())


def _set(options: Options, letter: str, value: str) -> None:
    if letter == "w":
        if len(value) != 1 or value not in WAITS:
            raise Usage(f"svc: -w takes one of {' '.join(WAITS)}, not {value!r}\n{USAGE}")
        options.wait = value
    else:
        if not (value.isascii() and value.isdigit()):
            raise Usage(f"svc: -T takes milliseconds, not {value!r}\n{USAGE}")
        options.deadline_ms = int(value)


def command(args: list[str]) -> int:
    options = parse(args)
    origin = Origin()
    # -w waits for what was told: the log services when only -L letters were given
    log_only = bool(options.log_parts) and not options.data
    targets = [os.path.join(d, "log") if log_only else d for d in options.directories]
    before = {}
    if options.wait:
        from svc import wait  # only a waiting svc pays for it

        before = wait.snapshot(targets, origin)
    reached: list[str] = []
    for directory, target in zip(options.directories, targets, strict=True):
        if log_only:
            sent = _send_log(directory, options.log_parts)
        else:
            sent = send(directory, options.data)
            origin.back()
            if options.log_parts:
                _send_log(directory, options.log_parts)
        origin.back()
        if sent:
            reached.append(target)
    if not options.wait:
        return exits.OK  # daemontools: "unable to control" is a warning, not a failure
    failed = len(reached) < len(options.directories)
    deadline = time.monotonic() + options.deadline_ms / 1000 if options.deadline_ms else None
    told = _joined(options.log_parts) if log_only else options.data
    code = wait.wait(reached, options.wait, deadline, told, before, origin)
    return code or (UNCONTROLLED if failed else exits.OK)


def main(argv: list[str] | None = None) -> int:
    return out.run(PROG, command, argv)


if __name__ == "__main__":
    sys.exit(main())

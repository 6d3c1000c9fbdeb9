"""qm-stop and qm-start: stop or start a qmail installation's services in the right order.

``qm-stop [-t SECONDS | --timeout SECONDS] [--skiplock] [--keep-logs] [-v] [SVDIR]``:
(1) the intake services (every ``qmail-*`` but ``qmail-send``: smtpd, pop3d,
qmtpd, qmqpd) get ``d`` and are waited for until their process trees are empty
(``svc -wE``: tcpserver is down *and* the SMTP sessions it forked have finished, so
no session can still hand a message to qmail-queue), saying every 5 s how many of
their processes remain; (2) then
``qmail-send`` gets ``d`` (TERM then CONT to its main pid only: its helpers must
not be signalled, or it abandons deliveries) and is waited for while it finishes
the deliveries under way; (3) then the log services, last, so that qmail-send's
final lines are logged. ``qm-start`` goes the other way: logs, then qmail-send
(up, or ready when it has a ``notification-fd``), then the intake services.

Without ``-t`` it waits as long as the stop takes, saying every few seconds what
is still up. With ``-t N`` it returns within N seconds: what is still up then
gets SIGKILL (``k``), is named, and the exit is 1 (qmail's queue is crash-safe:
a killed delivery is repeated, never lost); the intake sessions still running at
the deadline get SIGTERM (qmail-send's helpers never get a signal from qm-stop).
An administration lock, ``SVDIR/.qm-lock``, keeps two runs from interleaving (the second waits);
``--skiplock`` ignores it, for root only. Exit codes: 0 done, 1 deadline hit,
100 usage, 111 system error.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
import time

from cmdline import exits, out, version
from cmdline.cwd import Origin
from cmdline.out import Fatal, Usage, say, unable, warn
from svc import view
from svc.send import send
from svc.view import View
from svc.wait import reached, state, until

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

SENDER = "qmail-send"
LOCK = ".qm-lock"
PROGRESS_EVERY = 5.0  # seconds between "still waiting" lines
DEADLINE_HIT = 1  # exit code: the deadline passed before everything got there


class Options:
    __slots__ = ("keep_logs", "skiplock", "svdir", "timeout", "verbose")

    def __init__(self) -> None:
        self.timeout: float | None = None
        self.skiplock = False
        self.keep_logs = False
        self.verbose = False
        self.svdir = ""


def usage(prog: str) -> Usage:
    keep_logs = " [--keep-logs]" if prog == "qm-stop" else ""
    return Usage(f"{prog}: usage: {prog} [-t seconds | --timeout seconds] [--skiplock]"
                 f"{keep_logs} [-v] [svdir]")


def parse(prog: str, argv: list[str]) -> Options:
    options = Options()
    args = list(argv)
    rest: list[str] = []
    while args:
        arg = args.pop(0)
        if arg in ("-t", "--timeout") or arg.startswith(("-t", "--timeout=")):
            value = arg.split("=", 1)[1] if arg.startswith("--timeout=") else arg[2:]
            if arg in ("-t", "--timeout"):
                value = args.pop(0) if args else ""
            if not (value.isascii() and value.isdigit()):
                raise usage(prog)
            options.timeout = float(value)
        elif arg == "--skiplock":
            options.skiplock = True
        elif arg == "--keep-logs" and prog == "qm-stop":
            options.keep_logs = True
        elif arg == "-v":
            options.verbose = True
        elif arg == "--":
            rest.extend(args)
            break
        elif arg.startswith("-"):
            raise usage(prog)
        else:
            rest.append(arg)
    if len(rest) > 1:
        raise usage(prog)
    options.svdir = rest[0] if rest else default_svdir()
    return options


def default_svdir() -> str:
    """$SVDIR, else /service (daemontools), else /etc/service (runit, Debian)."""
    return os.environ.get("SVDIR") or ("/service" if os.path.isdir("/service") else "/etc/service")


def services(svdir: str) -> tuple[list[str], list[str], list[str]]:
    """(intake, sender, logs): the qmail-* directories of `svdir`, as paths, sorted."""
    try:
        names = sorted(name for name in os.listdir(svdir) if name.startswith("qmail-"))
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable(f"read {svdir}", error)) from None
    paths = [path for path in (os.path.join(svdir, name) for name in names) if os.path.isdir(path)]
    sender = [path for path in paths if os.path.basename(path) == SENDER]
    intake = [path for path in paths if os.path.basename(path) != SENDER]
    logs = [f"{path}/log" for path in intake + sender if os.path.isdir(f"{path}/log")]
    return intake, sender, logs


LOCK_POLL = 0.1  # seconds between tries for a held lock when a deadline bounds the wait


def take_lock(prog: str, options: Options, deadline: float | None) -> int | None:
    """Hold SVDIR/.qm-lock (waiting for another run, at most until `deadline`), or skip it
    (root only)."""
    if options.skiplock:
        if os.geteuid() != 0:
            raise Fatal(exits.PERMANENT,
                        "--skiplock ignores the administration lock: only root may use it")
        return None
    path = os.path.join(options.svdir, LOCK)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise Fatal(exits.TEMPORARY, unable(f"open {path}", error)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
            raise Fatal(exits.TEMPORARY, unable(f"lock {path}", error)) from None
        say(f"{prog}: waiting for {path}: another qm-stop or qm-start is running")
        _wait_for_lock(fd, path, deadline)
    return fd


def _wait_for_lock(fd: int, path: str, deadline: float | None) -> None:
    if deadline is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise Fatal(DEADLINE_HIT, f"deadline: {path} is still held;"
                                          " nothing was stopped or started") from None
            time.sleep(LOCK_POLL)


class Step:
    """One group of directories brought to one goal (``D`` stopped, ``u``/``U`` started)."""

    __slots__ = ("directories", "goal", "letters", "what")

    def __init__(self, what: str, directories: list[str], letters: bytes, goal: str) -> None:
        self.what = what
        self.directories = directories
        self.letters = letters
        self.goal = goal


def plan(prog: str, options: Options) -> Iterator[Step]:
    intake, sender, logs = services(options.svdir)
    if prog == "qm-stop":
        yield Step("intake", intake, b"d", "E")
        yield Step("qmail-send", sender, b"d", "D")
        if not options.keep_logs:
            yield Step("logs", logs, b"d", "D")
    else:
        yield Step("logs", logs, b"u", "u")
        yield Step("qmail-send", sender, b"u", "U")
        yield Step("intake", intake, b"u", "u")


def run_step(prog: str, step: Step, deadline: float | None, origin: Origin, verbose: bool) -> int:
    """Send the step's letters, wait for its goal; at the deadline kill what is left (stop)."""
    for directory in step.directories:
        sent = send(directory, step.letters)
        origin.back()
        if verbose and sent:
            say(f"{prog}: {step.what}: sent {step.letters.decode()} to {directory}")

    def settled(directory: str, v: View) -> bool:
        """Reached, or nothing to wait for: no supervisor (send said so already)."""
        return reached(step.goal, v, None) or (bool(v.error) and v.fault == view.NOT_RUNNING)

    def progress(pending: list[str]) -> None:
        if step.goal == "E":
            remaining = sum(len(_read(directory, origin).members()) for directory in pending)
            say(f"{prog}: {step.what}: {remaining} processes of its sessions remain")
        for directory in pending:
            say(f"{prog}: still waiting for {directory}: {state(directory, origin)}")

    left = until(step.directories, settled, deadline, origin, progress, PROGRESS_EVERY,
                 trees=step.goal == "E")
    return _deadline(prog, step, left, origin) if left else exits.OK


def _deadline(prog: str, step: Step, pending: list[str], origin: Origin) -> int:
    for directory in pending:
        now_state = state(directory, origin)
        v = _read(directory, origin)
        if step.letters == b"d" and v.up:
            send(directory, b"k")
            origin.back()
            warn(f"deadline: killed {directory} ({now_state})")
        if step.goal == "E" and v.left:
            warn(f"deadline: sent TERM to the {_terminate(v.members())} processes "
                 f"{directory} left")
        elif step.letters != b"d":
            warn(f"deadline: {directory} is not up: {now_state}")
    if step.letters == b"d":
        warn("a delivery killed in progress is made again at the next start:"
                   " qmail's queue loses nothing")
    return DEADLINE_HIT


def _terminate(pids: list[int]) -> int:
    """TERM (then CONT) each of `pids`, as ``d`` does to a main pid; how many were there.

    `signal` is imported here, at a deadline only: it loads enum, which a client avoids.
    """
    import signal

    count = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)
            count += 1
        except ProcessLookupError:
            pass
    return count


def _read(directory: str, origin: Origin) -> View:
    v = view.read(directory)
    origin.back()
    return v


def _rest_without_waiting(prog: str, steps: list[Step], origin: Origin) -> None:
    """After a deadline: the later steps still get their letters, but nobody waits for them."""
    for step in steps:
        for directory in step.directories:
            if send(directory, step.letters):
                warn(f"deadline: sent {step.letters.decode()} to {directory} without waiting")
            origin.back()


def main_for(prog: str, argv: list[str] | None) -> int:
    return out.run(prog, lambda args: _command(prog, args), argv)


def _command(prog: str, argv: list[str]) -> int:
    if version.asked(argv):
        return version.show(prog)
    options = parse(prog, argv)
    origin = Origin()
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    lock = take_lock(prog, options, deadline)
    try:
        steps = list(plan(prog, options))
        for index, step in enumerate(steps):
            if run_step(prog, step, deadline, origin, options.verbose):
                _rest_without_waiting(prog, steps[index + 1:], origin)
                return DEADLINE_HIT
            if options.verbose and step.directories:
                say(f"{prog}: {step.what}: done")
    finally:
        if lock is not None:
            os.close(lock)
    return exits.OK


def stop(argv: list[str] | None = None) -> int:
    return main_for("qm-stop", argv)


def start(argv: list[str] | None = None) -> int:
    return main_for("qm-start", argv)


if __name__ == "__main__":
    sys.exit(start() if os.path.basename(sys.argv[0]).startswith("qm-start") else stop())

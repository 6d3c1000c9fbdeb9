"""The last resort: a daemon whose task tree died keeps what runs until it can re-execute.

The guards (`supervise.guard`) catch a fault in any task; one they cannot
catch (in the daemon's own frame, in trio itself) ends `trio.run`, and every
task has closed its directory by then: nothing supervises, the locks are
free. The services still run, our children. This keeps the process alive, a
plain loop without trio, and re-executes it as after a ``kill -9`` (nothing
handed over: the new image takes every running service back by its pid).
If the exec fails, it is tried again, backing off; if faults came too often
(`supervise.healing`), after a pause. Meanwhile the keeper reaps what ends
(a service that ends then is started afresh by the new image) and answers:

- SIGHUP: try now;
- SIGTERM, SIGINT, SIGPWR: try now, the signal left pending for the new
  image, which stops every service in order; if the exec fails, TERM and
  CONT to every child, wait for them all, exit 111 (a second signal: KILL);
- SIGUSR1: one ``state`` line.

It never exits while a child runs unless told to stop. Signals stay blocked
throughout (sigtimedwait), as the re-exec wants them.
"""

from __future__ import annotations

import os
import signal
import time

from cmdline import exits
from supervise import healing, inject, reexec, say
from supervise.process import HELD_SIGNALS

_STOP = (signal.SIGTERM, signal.SIGINT, signal.SIGPWR)


def keep(where: str, argv: list[str], history: healing.History) -> int:
    """After the tree died of `where`: re-execute, or keep what runs; the exit code if told
    to stop and the exec failed."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    decision = healing.after_fault(history, time.monotonic())
    history = decision.history
    if decision.verdict is healing.Verdict.GIVE_UP:
        then = (f"{healing.MAX_FAULTS} faults within {healing.WINDOW:g} seconds: keeping what "
                f"runs; re-executing in {decision.wait:g} seconds, or on SIGHUP")
    else:
        then = "re-executing; the new image takes back every service by its pid"
    say.line("alert", f"the daemon failed: {where}: {then}")
    due = time.monotonic() + decision.wait
    failures = 0
    stopping = 0
    while True:
        reap()
        if stopping and not children():
            return exits.TEMPORARY
        received = signal.sigtimedwait(HELD_SIGNALS, max(due - time.monotonic(), 0))
        signum = None if received is None else received.si_signo
        if signum == signal.SIGUSR1:
            say.line("state", f"keeper pid {os.getpid()}: {len(children())} children, "
                     f"re-executing in {max(due - time.monotonic(), 0):.0f} seconds")
        if signum in _STOP:
            stopping += 1
            if stopping > 1:
                _signal_all(signal.SIGKILL)
                continue
            os.kill(os.getpid(), signum)  # pending: the new image stops in order
        elif signum not in (None, signal.SIGHUP):
            continue
        extra = {reexec.FAULTS_ENV: healing.encode(history), **inject.carried()}
        failure = reexec.reexec(argv, None, [], extra)
        if stopping:
            signal.sigtimedwait(list(_STOP), 0)
            say.line("alert", f"unable to re-execute: {failure}; stopping every service")
            _signal_all(signal.SIGTERM)
            _signal_all(signal.SIGCONT)
            due = time.monotonic() + healing.PAUSE_MAX  # no more tries: wait for them
            continue
        failures += 1
        delay = healing.retry_delay(failures)
        due = time.monotonic() + delay
        say.line("alert", f"unable to re-execute: {failure}; trying again in {delay:g} seconds")


def reap() -> None:
    """Collect every child that ended (nothing to tell anyone: nothing supervises now)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def children() -> list[int]:
    """The pids of our children, from ``/proc/self/task/*/children``."""
    found: list[int] = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                found += [int(word) for word in listing.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _signal_all(signum: int) -> None:
    for pid in children():
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

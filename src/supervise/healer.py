"""The daemon's self-healing, carried out: guarded tasks, the alert line, the re-exec.

`supervise.healing` decides (pure): re-execute now, or give up for a pause;
how long to wait before an exec that failed is tried again. This carries it
out under trio for the daemon (`supervise.svscan.Scanner`): a task that
faults is said in one ``alert`` line; the signal task, which listens in
`listening`'s cancel scope, leaves its receiver when the re-exec is due (the
scope's deadline) and calls `reexec`, which hands the state over and execs.
A task parked after a give-up waits on `abandon`, which a forced stop sets.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Awaitable, Callable

import attrs
import trio

from supervise import guard, healing, inject, process, reexec, say

#: What the daemon hands over: the encoded state, or None (taken back by pid), and its fds.
Export = Callable[[], tuple[bytes | None, list[int]]]


@attrs.define(eq=False)
class Healer:
    """The fault history (carried across each exec), when the signal task re-executes
    (`at`; inf: no fault waiting), and the exec failures in a row since the fault."""

    history: healing.History = attrs.field(factory=healing.History)
    abandon: trio.Event = attrs.field(factory=trio.Event)
    at: float = math.inf
    _listening: trio.CancelScope | None = None
    _failures: int = 0

    def listening(self) -> trio.CancelScope:
        """The scope the signal task listens in: it ends when a re-exec is due."""
        self._listening = trio.CancelScope(deadline=self.at)
        return self._listening

    def done_listening(self) -> None:
        self._listening = None

    async def guarded(
        self, where: str, task: Callable[..., Awaitable[None]],
        *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the daemon task `task` (the reaper, the readers, the scan); hand a fault to
        `fault`, and start it again, unless the daemon gave up: then wait until re-executed,
        or a forced stop lets it go."""
        while True:
            try:
                await task(task_status=task_status)
                return
            except BaseException as error:
                verdict = self.caught(error, where)
            try:
                task_status.started()  # if the fault came first: the daemon may go on
            except RuntimeError:
                pass
            task_status = trio.TASK_STATUS_IGNORED
            if verdict is healing.Verdict.GIVE_UP:
                await self.abandon.wait()
                return

    def caught(self, error: BaseException, where: str) -> healing.Verdict:
        """`fault`, for an error caught in a task; one that ends it in order is raised on."""
        if guard.orderly(error):
            raise error
        return self.fault(error, where)

    def fault(self, error: BaseException, where: str) -> healing.Verdict:
        """A fault escaped a task: say it (one ``alert`` line), and re-execute now, or after
        the pause `supervise.healing` decides if faults came too often."""
        decision = healing.after_fault(self.history, time.monotonic())
        self.history = decision.history
        if decision.verdict is healing.Verdict.GIVE_UP:
            then = (f"{healing.MAX_FAULTS} faults within {healing.WINDOW:g} seconds: no "
                    f"longer re-executing, keeping what runs; trying again in "
                    f"{decision.wait:g} seconds, or on SIGHUP")
        else:
            then = "re-executing, services kept"
        say.line("alert", f"internal error in {where}: {guard.describe(error)}: {then}")
        self._failures = 0
        self.at = trio.current_time() + decision.wait
        if self._listening is not None:
            self._listening.deadline = self.at
        return decision.verdict

    @staticmethod
    async def hold_signals() -> None:
        """Block the daemon's signals, and let trio pass on those already caught.

        Once blocked, a signal stays pending in the kernel, across an exec. The
        ones caught before are queued as trio callbacks; a callback queued after
        them runs after them, and then closing the receiver re-raises every
        signal still pending in it, into the blocked (kernel) set.
        """
        signal.pthread_sigmask(signal.SIG_BLOCK, process.HELD_SIGNALS)
        flushed = trio.Event()
        trio.lowlevel.current_trio_token().run_sync_soon(flushed.set)
        await flushed.wait()

    def reexec(self, argv: list[str], export: Export, stopping: bool) -> None:
        """Replace this process by a fresh copy of the program (`argv`), handing over what
        `export` gives; services keep running.

        Called with the signals held; returns (with them still held) only if the
        exec did not happen, after saying so. After a fault, the exec is tried
        again later, backing off; a shutdown under way (`stopping`) is passed on
        (a SIGTERM left pending for the new image).
        """
        after_fault = self.at != math.inf
        self.at = math.inf
        inject.point("tree")  # escapes every guard: the whole tree dies (supervise.keeper)
        payload, keep = export()
        if stopping:
            os.kill(os.getpid(), signal.SIGTERM)  # held: pending across the exec
        extra = {reexec.FAULTS_ENV: healing.encode(self.history), **inject.carried()}
        failure = reexec.reexec(argv, payload, keep, extra)
        if stopping:
            signal.sigtimedwait([signal.SIGTERM], 0)  # not for us: we are stopping already
        if not after_fault:
            say.line("alert", f"unable to re-execute on SIGHUP, still running: {failure}")
            return
        self._failures += 1
        delay = healing.retry_delay(self._failures)
        self.at = trio.current_time() + delay
        say.line("alert", f"unable to re-execute after an internal error, still running: "
                 f"{failure}; trying again in {delay:g} seconds")

"""The entry driver (`supervise.entry`) in virtual time, with fake services.

trio's MockClock jumps to the next deadline whenever every task waits, so
`RETAKE_DELAY` (5 s) and `LOG_GRACE` (10 s) are checked to the exact virtual
second in milliseconds of real time. The services are fakes made by the
entry's factory: they note what the entry asked of them, and when.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from supervise import entry_machine as em
from supervise.entry import LOG_GRACE, RETAKE_DELAY, Entry, Host
from supervise.handover import EntryHandover, ServiceHandover
from supervise.machine import State as ServiceState


@attrs.define
class World:
    """The fakes' shared journal: (virtual time, what, path), in order."""

    journal: list[tuple[float, str, str]] = attrs.field(factory=list)
    made: list[FakeService] = attrs.field(factory=list)
    setup: float = 0.0  # how long a service takes to settle
    drain: float | None = 1.0  # a logger exits this long after its write end closed (None: never)
    refuse: set[str] = attrs.field(factory=set)  # paths whose lock is held elsewhere
    down: list[str] = attrs.field(factory=list)  # what on_service_down heard

    def note(self, what: str, path: str) -> None:
        self.journal.append((trio.current_time(), what, path))

    def make(self, path: str, reaper: Any, readers: Any, **options: Any) -> FakeService:
        service = FakeService(self, path, options)
        self.made.append(service)
        return service

    def times(self, what: str, path: str) -> list[float]:
        return [when for when, done, where in self.journal if (done, where) == (what, path)]

    def events(self) -> list[tuple[str, str]]:
        return [(what, path) for _, what, path in self.journal]


@attrs.define(eq=False)
class FakeService:
    """Runs until shut down, released (``x``), or, told to release when down, until it
    drains (`World.drain`)."""

    world: World
    path: str
    options: dict[str, Any]
    refused: bool = False
    settled: trio.Event = attrs.field(factory=trio.Event)
    exit_at: float = math.inf
    stopped: bool = False
    muted: bool = False
    _poke: trio.Event = attrs.field(factory=trio.Event)

    async def run(self) -> None:
        self.world.note("run", self.path)
        await trio.sleep(self.world.setup)
        if self.path in self.world.refuse:
            self.refused = True
            self.settled.set()
            self.world.note("refused", self.path)
            return
        self.settled.set()
        while not self.stopped and trio.current_time() < self.exit_at:
            self._poke = trio.Event()
            with trio.move_on_at(self.exit_at):
                await self._poke.wait()
        self.world.note("released", self.path)

    def shutdown(self, force: bool = False) -> None:
        self.world.note("kill" if force else "shutdown", self.path)
        self.stopped = True
        self._poke.set()

    def release_when_down(self) -> None:
        self.world.note("release when down", self.path)
        if self.world.drain is not None:
            self.exit_at = trio.current_time() + self.world.drain
        self._poke.set()

    def exit(self) -> None:
        """``svc -x`` on a service that is down: released now."""
        self.shutdown()

    def resume(self, handed: ServiceHandover) -> None:
        self.world.journal.append((0.0, "resume", self.path))

    def mute(self) -> None:
        self.muted = True
        self.world.note("mute", self.path)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        try:
            os.close(fd)
        except OSError:
            pass  # closed by the entry, as it should


def make_host(world: World, retake: bool = True) -> Host:
    return Host(
        reaper=None,  # type: ignore[arg-type]
        readers=None,  # type: ignore[arg-type]
        on_service_down=lambda entry: world.down.append(entry.name),
        retake=retake,
        factory=world.make,  # type: ignore[arg-type]
    )


def make_entry(world: World, pipe: tuple[int, int] | None, retake: bool = True) -> Entry:
    host = make_host(world, retake)
    read_end, write_end = pipe or (None, None)
    return Entry("svc", (0, 0), host, em.new(pipe is not None, retake), read_end, write_end)


def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def run_entry(entry: Entry, script: Any) -> float:
    """Run `entry` and `script(entry)` beside it in virtual time; when the entry ended."""
    ended: list[float] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            async def entry_task() -> None:
                await entry.run()
                ended.append(trio.current_time())

            nursery.start_soon(entry_task)
            await script(entry)

    trio.run(main, clock=clock())
    return ended[0]


async def nothing(entry: Entry) -> None:
    """A script that does nothing to the entry."""


def service(world: World, path: str, index: int = -1) -> FakeService:
    return [made for made in world.made if made.path == path][index]


# --- starting: the logger first ------------------------------------------------------


def test_service_starts_once_the_logger_settled(world: World, pipe: tuple[int, int]) -> None:
    world.setup = 2.0
    entry = make_entry(world, pipe)

    async def script(entry: Entry) -> None:
        await trio.sleep(30)
        entry.stop()

    run_entry(entry, script)
    assert world.times("run", "svc/log") == [0.0]
    assert world.times("run", "svc") == [2.0]  # the logger's setup took 2 s


def test_a_refused_logger_lets_the_service_start_and_is_taken_again(
    world: World, pipe: tuple[int, int]
) -> None:
    world.refuse.add("svc/log")
    entry = make_entry(world, pipe)

    async def script(entry: Entry) -> None:
        await trio.sleep(12)
        entry.stop()

    run_entry(entry, script)
    assert world.times("run", "svc") == [0.0]
    assert world.times("run", "svc/log") == [0.0, RETAKE_DELAY, 2 * RETAKE_DELAY]
    assert entry.refused is False  # only the service's refusal counts (supervise's exit 111)


# --- stopping: the service first, then the logger drains -----------------------------------


def test_stop_alone_drains_the_logger_after_the_service(
    world: World, pipe: tuple[int, int]
) -> None:
    entry = make_entry(world, pipe)

    async def script(entry: Entry) -> None:
        await trio.sleep(3)
        entry.stop()
        await trio.sleep(0.5)
        assert entry.log_out is None  # the service went down at once: write end closed

    ended = run_entry(entry, script)
    assert world.events() == [
        ("run", "svc/log"), ("run", "svc"), ("shutdown", "svc"), ("released", "svc"),
        ("release when down", "svc/log"), ("released", "svc/log"),
    ]
    assert world.times("released", "svc/log") == [3.0 + 1.0]  # it drained in its 1 s
    assert ended == 4.0  # LOG_GRACE is an upper bound, not a sleep
    assert world.down == ["svc"]
    assert (entry.log_in, entry.log_out) == (None, None)


def test_a_lingering_logger_is_shut_down_after_log_grace(
    world: World, pipe: tuple[int, int]
) -> None:
    world.drain = None  # never reads to EOF by itself
    entry = make_entry(world, pipe)

    async def script(entry: Entry) -> None:
        await trio.sleep(1)
        entry.stop()

    ended = run_entry(entry, script)
    assert world.times("release when down", "svc/log") == [1.0]
    assert world.times("shutdown", "svc/log") == [1.0 + LOG_GRACE]
    assert ended == 1.0 + LOG_GRACE


def test_loggers_wait_for_the_daemons_word(world: World, pipe: tuple[int, int]) -> None:
    """svscan's shutdown: every service down first; loggers only when told."""
    entry = make_entry(world, pipe)

    async def script(entry: Entry) -> None:
        await trio.sleep(1)
        entry.stop(logs_too=False)
        await trio.sleep(20)
        assert entry.service_down and world.down == ["svc"]
        assert world.times("release when down", "svc/log") == []
        entry.let_logs_stop()

    ended = run_entry(entry, script)
    assert world.times("released", "svc") == [1.0]
    assert world.times("release when down", "svc/log") == [21.0]
    assert ended == 22.0


def test_force_stop_kills_both(world: World, pipe: tuple[int, int]) -> None:
    world.drain = None
    entry = make_entry(world, pipe)

    async def script(entry: Entry) -> None:
        await trio.sleep(1)
        entry.stop(logs_too=False)
        entry.stop(force=True, logs_too=True)

    ended = run_entry(entry, script)
    assert ("kill", "svc") in world.events() and ("kill", "svc/log") in world.events()
    assert ended == 1.0


def test_vanish_mutes_both_before_stopping(world: World, pipe: tuple[int, int]) -> None:
    entry = make_entry(world, pipe)

    async def script(entry: Entry) -> None:
        await trio.sleep(1)
        entry.vanish()

    run_entry(entry, script)
    events = world.events()
    assert events.index(("mute", "svc")) < events.index(("shutdown", "svc"))
    assert all(made.muted for made in world.made)


def test_stop_before_the_task_began_starts_nothing(world: World, pipe: tuple[int, int]) -> None:
    entry = make_entry(world, pipe)
    entry.stop()
    ended = run_entry(entry, nothing)
    assert world.made == [] and ended == 0.0 and world.down == ["svc"]


# --- released directories: taken again after RETAKE_DELAY (svscan), or done (supervise) ----


@pytest.mark.parametrize("with_log", [True, False], ids=["with-logger", "alone"])
def test_a_released_service_is_taken_again_after_retake_delay(
    world: World, pipe: tuple[int, int], with_log: bool
) -> None:
    entry = make_entry(world, pipe if with_log else None)

    async def script(entry: Entry) -> None:
        await trio.sleep(3)
        service(world, "svc").exit()
        await trio.sleep(RETAKE_DELAY + 1)
        entry.stop()

    run_entry(entry, script)
    assert world.times("run", "svc") == [0.0, 3.0 + RETAKE_DELAY]


def test_stop_while_waiting_to_retake_ends_at_once(world: World) -> None:
    entry = make_entry(world, None)

    async def script(entry: Entry) -> None:
        await trio.sleep(1)
        service(world, "svc").exit()
        await trio.sleep(2)
        entry.stop()

    ended = run_entry(entry, script)
    assert world.times("run", "svc") == [0.0] and ended == 3.0


def test_without_retake_a_released_directory_ends_the_entry(world: World) -> None:
    entry = make_entry(world, None, retake=False)

    async def script(entry: Entry) -> None:
        await trio.sleep(1)
        service(world, "svc").exit()

    ended = run_entry(entry, script)
    assert ended == 1.0 and world.times("run", "svc") == [0.0] and world.down == ["svc"]


def test_a_refused_service_marks_the_entry_refused(world: World) -> None:
    world.refuse.add("svc")
    entry = make_entry(world, None, retake=False)
    ended = run_entry(entry, nothing)
    assert entry.refused and ended == 0.0


# --- handed over by a re-executed daemon: resumed, not restarted ---------------------------

HANDED = ServiceHandover(fds={"lock": 99}, state=ServiceState(starts=1), timers={},
                         ready_fd=None)


def run_handed(world: World, handed: EntryHandover, stop_first: bool, stop_at: float) -> Entry:
    """Resume `handed` (inside trio, as the daemon does) and run it; stop it first (before
    its task began) if `stop_first`, else at `stop_at`."""
    made: list[Entry] = []

    async def main() -> None:
        entry = Entry.resume(handed, make_host(world))
        made.append(entry)
        assert entry.state.phase is em.Phase.HANDED_OVER
        if stop_first:
            entry.stop()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(entry.run)
            if not stop_first:
                await trio.sleep(stop_at)
                entry.stop()

    trio.run(main, clock=clock())
    return made[0]


def test_a_handed_over_entry_resumes_both_services_at_once(
    world: World, pipe: tuple[int, int]
) -> None:
    run_handed(world, EntryHandover("svc", (1, 2), pipe, main=HANDED, log=HANDED), False, 1)
    assert world.events()[:2] == [("resume", "svc"), ("resume", "svc/log")]
    assert sorted(world.events()[2:4]) == [("run", "svc"), ("run", "svc/log")]
    assert world.times("run", "svc") == world.times("run", "svc/log") == [0.0]
    assert [made.path for made in world.made] == ["svc", "svc/log"]  # no new service


def test_a_handed_over_entry_stopped_before_it_ran_brings_its_services_down(
    world: World
) -> None:
    """The daemon's SIGTERM reached it before the entry's task began."""
    run_handed(world, EntryHandover("svc", (1, 2), None, main=HANDED), True, 0)
    assert world.events() == [("resume", "svc"), ("shutdown", "svc"), ("run", "svc"),
                              ("released", "svc")]
    assert len(world.made) == 1 and world.down == ["svc"]


# --- cost: an entry without a logger holds no nursery, no event, no timer -------------------


def test_an_entry_without_logger_is_cheap(world: World) -> None:
    entry = make_entry(world, None)
    assert not hasattr(entry, "__dict__")  # slots

    async def script(entry: Entry) -> None:
        await trio.sleep(1)
        assert entry._nursery is None and entry._wakeup is None and entry._timers is None
        assert entry.state.phase is em.Phase.RUNNING
        entry.stop()

    run_entry(entry, script)

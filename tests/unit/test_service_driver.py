"""The driver of one service (`supervise.service.Service`) in virtual time.

trio's MockClock jumps ahead whenever every task waits, so the timing rules
(the quiet period of a shutdown, timeout-kill and its repeat, timeout-finish,
the one-start-a-second rule, the back-off of failed spawns, failed status
writes and failed setups) are checked in milliseconds of test time. The
processes are a fake reaper's: it hands out pids, records signals, and ends a
child when the test says so. The directory, its FIFOs, lock and status files
are real, in tmp_path; status writes are counted where they happen
(`fsio.replace_file`).
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from trio.testing import MockClock

from supervise import directory, fsio, layout, machine, record, status
from supervise.readers import Readers
from supervise.service import Service
from supervise.tai import Tai64n


@attrs.define
class FakeReaper:
    """Spawns nothing: each spawn gets the next pid; `end` gives a child's exit to its driver."""

    spawned: list[tuple[float, str, int]] = attrs.Factory(list)
    signals: list[tuple[float, int, int]] = attrs.Factory(list)
    failing: int = 0  # this many next spawns fail, as a missing ./run does
    next_pid: int = 1000
    _waiting: dict[int, Callable[[int], None]] = attrs.Factory(dict)
    _spawn_seen: trio.Event = attrs.Factory(trio.Event)  # set (and replaced) at each spawn
    cgroups: None = None  # no cgroup: trees are sessions

    def spawn(
        self, dir_fd: int, program: str, args: list[str], on_exit: Callable[[int], None],
        *, setsid: bool = True, fds: dict[int, int] | None = None, cgroup: str | None = None,
    ) -> int:
        if self.failing:
            self.failing -= 1
            self.spawned.append((trio.current_time(), program, 0))
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        self.next_pid += 1
        self.spawned.append((trio.current_time(), program, self.next_pid))
        self._waiting[self.next_pid] = on_exit
        self._spawn_seen.set()
        self._spawn_seen = trio.Event()
        return self.next_pid

    async def started(self, count: int) -> None:
        """Until ./run has been started `count` times."""
        while len(self.starts()) < count:
            await self._spawn_seen.wait()

    def signal(self, pid: int, signum: int, group: bool = False) -> None:
        """Recorded as kill(2) would be called: a group as -pid."""
        self.signals.append((trio.current_time(), -pid if group else pid, signum))

    def adopt(self, pid: int, on_exit: Callable[[int], None]) -> None:
        self._waiting[pid] = on_exit

    def end(self, pid: int, code: int = 0, signum: int = 0) -> None:
        self._waiting.pop(pid)(signum if signum else code << 8)

    def starts(self, program: str = "./run") -> list[float]:
        return [when for when, name, _ in self.spawned if name == program]


@attrs.define
class Writes:
    """Every replacement of a file in a ``supervise/`` (name, virtual time); some may fail."""

    done: list[tuple[float, str]] = attrs.Factory(list)
    tried: list[float] = attrs.Factory(list)
    failing: int = 0  # this many next writes of `status` fail: disk full

    def of(self, name: str) -> list[float]:
        return [when for when, each in self.done if each == name]


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Writes:
    record = Writes()
    real = fsio.replace_file

    def replace_file(dir_fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
        if name == "status":
            record.tried.append(trio.current_time())
            if record.failing:
                record.failing -= 1
                raise OSError(errno.ENOSPC, "No space left on device")
        real(dir_fd, name, data, mode)
        record.done.append((trio.current_time(), name))

    monkeypatch.setattr(fsio, "replace_file", replace_file)
    return record


@attrs.define
class Rig:
    """A service directory under a running `Service`, with its fake reaper."""

    path: Path
    reaper: FakeReaper
    service: Service
    finals: list[int]

    def control(self, data: bytes) -> None:
        fd = os.open(self.path / "supervise" / "control", os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def status(self) -> status.Status:
        return status.unpack((self.path / "supervise" / "status").read_bytes())

    @property
    def pid(self) -> int:
        return self.service.state.pid


RigOf = Callable[..., Awaitable[Rig]]


def service_dir(tmp_path: Path, **files: str) -> Path:
    path = tmp_path / "svc"
    path.mkdir()
    (path / "run").write_text("#!/bin/sh\nexec sleep 100\n")
    (path / "run").chmod(0o755)
    for name, text in files.items():
        (path / name.replace("_", "-")).write_text(text)
    return path


@pytest.fixture
async def rig_of(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    """`await rig_of(**files)`: a Service running on a new directory with those files.

    pytest-trio runs a test on a clock it asks for itself: each test here takes
    `autojump_clock`, so the time it sees is virtual.
    """
    async with trio.open_nursery() as nursery:
        readers = Readers()
        await nursery.start(readers.run)

        async def make(**files: str) -> Rig:
            path = service_dir(tmp_path, **files)
            reaper, finals = FakeReaper(), []
            service = Service(
                str(path), reaper, readers, on_final=finals.append, clock=wall  # type: ignore[arg-type]
            )
            nursery.start_soon(service.run)
            await service.settled.wait()
            return Rig(path, reaper, service, finals)

        yield make
        nursery.cancel_scope.cancel()


def wall() -> float:
    """Unix time that moves with trio's (virtual) clock, for the machine's `now`."""
    return 1_795_282_400.0 + trio.current_time()


async def settle() -> None:
    """Let every task run what it can now (readers, the service) without moving time."""
    await trio.testing.wait_all_tasks_blocked()


# --- the shutdown's quiet period ---------------------------------------------------------


async def test_shutdown_of_a_quick_service_writes_its_status_once(
    rig_of: RigOf, writes: Writes, autojump_clock: MockClock
) -> None:
    """Gone within the quiet period: the down status is the only write of the stop."""
    rig = await rig_of()
    pid, began = rig.pid, trio.current_time()
    before = len(writes.of("status"))
    rig.service.shutdown()
    await settle()
    assert [s for _, p, s in rig.reaper.signals if p == pid] == [signal.SIGTERM, signal.SIGCONT]
    await trio.sleep(0.1)
    assert len(writes.of("status")) == before  # held back: it may be gone in a moment
    rig.reaper.end(pid, signum=signal.SIGTERM)
    await settle()
    assert writes.of("status")[before:] == [began + 0.1]
    assert rig.status().pid == 0 and rig.status().want is status.Want.DOWN


async def test_shutdown_of_a_slow_service_says_want_down_after_the_quiet_period(
    rig_of: RigOf, writes: Writes, autojump_clock: MockClock
) -> None:
    """Still running at the end of the quiet period: its "want down" is written then."""
    rig = await rig_of()
    pid, began = rig.pid, trio.current_time()
    before = len(writes.of("status"))
    rig.service.shutdown()
    await trio.sleep(1)
    assert writes.of("status")[before:] == [began + machine.SHUTDOWN_QUIET]
    assert rig.status().pid == pid and rig.status().want is status.Want.DOWN
    assert rig.status().term_sent


# --- timeouts --------------------------------------------------------------------------------


async def test_timeout_kill_then_every_five_seconds(
    rig_of: RigOf, autojump_clock: MockClock
) -> None:
    """``d`` on a service that ignores its down-signal: SIGKILL at timeout-kill, then every
    KILL_REPEAT seconds until it is gone; nothing after."""
    rig = await rig_of(timeout_kill="500\n", down_signal="HUP\n")
    pid = rig.pid
    began = trio.current_time()
    rig.control(b"d")
    await trio.sleep(11)
    sent = [(round(when - began, 3), s) for when, p, s in rig.reaper.signals if p == pid]
    assert sent == [
        (0, signal.SIGHUP), (0, signal.SIGCONT), (0.5, signal.SIGKILL), (5.5, signal.SIGKILL),
        (10.5, signal.SIGKILL),
    ]
    rig.reaper.end(pid, signum=signal.SIGKILL)
    await trio.sleep(20)
    assert len(rig.reaper.signals) == len(sent)
    assert len(rig.reaper.starts()) == 1 and rig.status().pid == 0  # wanted down: no restart


async def test_timeout_finish_kills_a_finish_that_hangs(
    rig_of: RigOf, autojump_clock: MockClock
) -> None:
    """./finish past timeout-finish gets SIGKILL; its end then restarts ./run."""
    rig = await rig_of(timeout_finish="300\n", finish="#!/bin/sh\nexec sleep 100\n")
    (rig.path / "finish").chmod(0o755)
    await trio.sleep(5)  # past the one-second rule: the restart may be at once
    began = trio.current_time()
    rig.reaper.end(rig.pid, code=2)
    await settle()
    (_, program, finish_pid) = rig.reaper.spawned[-1]
    assert program == "./finish" and rig.status().run_state is status.RunState.FINISH
    await trio.sleep(1)
    assert [(round(w - began, 3), p, s) for w, p, s in rig.reaper.signals] == [
        (0.3, finish_pid, signal.SIGKILL)
    ]
    rig.reaper.end(finish_pid, signum=signal.SIGKILL)
    await settle()
    assert rig.reaper.starts()[1:] == [began + 1]


# --- starts ----------------------------------------------------------------------------------


async def test_quick_death_restarts_one_second_after_the_start(
    rig_of: RigOf, autojump_clock: MockClock
) -> None:
    rig = await rig_of()
    (first,) = rig.reaper.starts()
    await trio.sleep(0.3)
    rig.reaper.end(rig.pid, code=1)
    await trio.sleep(5)
    assert rig.reaper.starts()[:2] == pytest.approx([first, first + machine.START_INTERVAL])


async def test_failed_spawns_back_off_to_ten_seconds(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    """./run cannot be started: tries at 0, 1, 3, 7, 15, 25, 35 s (1, 2, 4, 8, 10, 10)."""
    path = service_dir(tmp_path)
    reaper = FakeReaper(failing=100)
    async with trio.open_nursery() as nursery:
        readers = Readers()
        await nursery.start(readers.run)
        service = Service(str(path), reaper, readers, clock=wall)  # type: ignore[arg-type]
        began = trio.current_time()
        nursery.start_soon(service.run)
        await trio.sleep(36)
        nursery.cancel_scope.cancel()
    assert [round(when - began, 3) for when in reaper.starts()] == [0, 1, 3, 7, 15, 25, 35]


async def test_gone_for_good_is_told_once_with_its_code(
    rig_of: RigOf, autojump_clock: MockClock
) -> None:
    """``o``, then ./run exits 3: down for good, told with code 3 (what essential acts on)."""
    rig = await rig_of()
    rig.control(b"o")
    await settle()
    rig.reaper.end(rig.pid, code=3)
    await trio.sleep(5)
    assert rig.finals == [3] and len(rig.reaper.starts()) == 1


# --- the crash-loop policy ------------------------------------------------------------------


def extra_record(rig: Rig) -> record.Extra:
    return record.unpack_extra((rig.path / "supervise" / "xstatus").read_bytes())


async def crash_quickly(rig: Rig, times: int, lived: float = 0.1) -> list[float]:
    """End each new start of ./run `lived` seconds after it; the start times, from the first."""
    for number in range(1, times + 1):
        with trio.fail_after(100):
            await rig.reaper.started(number)
        await trio.sleep_until(rig.reaper.starts()[-1] + lived)
        rig.reaper.end(rig.pid, code=1)
    first = rig.reaper.starts()[0]
    return [round(when - first, 3) for when in rig.reaper.starts()]


async def test_backoff_doubles_between_quick_deaths(
    rig_of: RigOf, autojump_clock: MockClock
) -> None:
    """backoff-max 8000: runs dying 0.1 s after their start are restarted 1, 2, 4, 8, 8 s
    after each death; meanwhile xstatus says until when (svstat's "backing off")."""
    rig = await rig_of(backoff_max="8000\n")
    assert await crash_quickly(rig, 5) == [0, 1.1, 3.2, 7.3, 15.4]
    await settle()  # the fifth death: down, backing off until 8 s from now
    extra = extra_record(rig)
    assert extra.flags & layout.BACKOFF and rig.status().pid == 0
    assert extra.backoff_until == Tai64n.from_unix(wall() + 8.0)
    await trio.sleep(8.5)
    assert len(rig.reaper.starts()) == 6 and rig.status().pid == rig.pid
    assert not extra_record(rig).flags & layout.BACKOFF


async def test_without_settings_a_crash_loop_restarts_once_a_second(
    rig_of: RigOf, autojump_clock: MockClock
) -> None:
    """The default is unchanged: a start a second, for ever, never a back-off shown."""
    rig = await rig_of()
    assert await crash_quickly(rig, 6) == [0, 1, 2, 3, 4, 5]
    assert not extra_record(rig).flags & (layout.BACKOFF | layout.FAILED)


async def test_u_waits_for_the_backoff_and_d_ends_it(
    rig_of: RigOf, autojump_clock: MockClock
) -> None:
    """``u`` during a back-off starts nothing early; ``d`` then ``u`` starts at once."""
    rig = await rig_of(backoff_max="60000\n")
    await crash_quickly(rig, 3)  # the third death waits 4 s
    began = trio.current_time()
    rig.control(b"u")
    await trio.sleep(2)
    assert len(rig.reaper.starts()) == 3
    rig.control(b"d")
    await settle()
    assert not extra_record(rig).flags & layout.BACKOFF
    rig.control(b"u")
    await settle()
    assert rig.reaper.starts()[3:] == [began + 2]


async def test_give_up_after_deaths_within_the_window(
    rig_of: RigOf, autojump_clock: MockClock
) -> None:
    """permafail-deaths 3 in permafail-secs 10: the third death leaves it down for good
    (want down, failed, told once with its code); ``u`` starts it again."""
    rig = await rig_of(permafail_deaths="3\n", permafail_secs="10\n")
    await crash_quickly(rig, 3, lived=1.5)
    await trio.sleep(30)
    assert len(rig.reaper.starts()) == 3 and rig.finals == [1]
    assert rig.status().want is status.Want.DOWN and rig.status().pid == 0
    assert extra_record(rig).flags & layout.FAILED
    rig.control(b"u")
    await settle()
    assert len(rig.reaper.starts()) == 4 and rig.status().pid == rig.pid
    assert not extra_record(rig).flags & layout.FAILED


async def test_a_bad_policy_file_is_said_and_the_default_used(
    rig_of: RigOf, autojump_clock: MockClock, capfd: pytest.CaptureFixture[str]
) -> None:
    """Garbage in backoff-max: said once, with the file's name, and no back-off."""
    rig = await rig_of(backoff_max="soon\n")
    assert await crash_quickly(rig, 3) == [0, 1, 2]
    said = capfd.readouterr().err
    assert said.count("backoff-max: not a number of milliseconds: 'soon'") == 1


# --- status writes ------------------------------------------------------------------------


async def test_start_is_one_write(
    rig_of: RigOf, writes: Writes, autojump_clock: MockClock
) -> None:
    """Taking the directory and starting ./run: one status write, saying up."""
    rig = await rig_of()
    assert len(writes.of("status")) == 1 and rig.status().pid == rig.pid


async def test_one_read_of_control_is_one_write(
    rig_of: RigOf, writes: Writes, autojump_clock: MockClock
) -> None:
    """Many commands in one read are one burst: the status is written once, at its end,
    and says what the last of them left (the pause of ``pcpcp``, the want of ``du``)."""
    rig = await rig_of()
    pid = rig.pid
    before = len(writes.of("status"))
    rig.control(b"pcpcp?!\x00" * 100)
    await settle()
    assert len(writes.of("status")) == before + 1
    assert rig.status().paused and rig.status().pid == pid
    stops = [s for _, p, s in rig.reaper.signals if p == pid and s == signal.SIGSTOP]
    assert len(stops) == 300  # every command applied, in order
    await trio.sleep(5)
    rig.control(b"du")  # down, then up: the restart is the burst's, and one write
    await settle()
    rig.reaper.end(pid, signum=signal.SIGTERM)
    await settle()
    assert len(rig.reaper.starts()) == 2 and rig.status().pid == rig.pid != pid
    assert rig.status().want is status.Want.UP


async def test_failed_status_writes_back_off(
    rig_of: RigOf, writes: Writes, autojump_clock: MockClock
) -> None:
    """A full disk: the status write is tried again at 1, 2, 4 s intervals until it works."""
    rig = await rig_of()
    writes.failing = 3
    began = trio.current_time()
    rig.control(b"p")
    await trio.sleep(20)
    assert [round(when - began, 3) for when in writes.tried[1:]] == [0, 1, 3, 7]
    assert rig.status().paused and writes.failing == 0


async def test_a_broken_directory_is_retried_with_back_off(
    tmp_path: Path, autojump_clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``supervise`` is a file: setup fails, said once, tried again 1, 2, 4, 8 s later."""
    path = service_dir(tmp_path)
    (path / "supervise").write_text("not a directory\n")
    tries: list[float] = []
    real = directory.opened

    def opened(name: str):  # type: ignore[no-untyped-def]
        tries.append(trio.current_time())
        return real(name)

    monkeypatch.setattr(directory, "opened", opened)
    async with trio.open_nursery() as nursery:
        readers = Readers()
        await nursery.start(readers.run)
        service = Service(str(path), FakeReaper(), readers, clock=wall)  # type: ignore[arg-type]
        began = trio.current_time()
        nursery.start_soon(service.run)
        await trio.sleep(16)
        (path / "supervise").unlink()
        await trio.sleep(20)
        nursery.cancel_scope.cancel()
    assert [round(when - began, 3) for when in tries] == [0, 1, 3, 7, 15, 25]
    assert record.unpack((path / "supervise" / "status").read_bytes()).pid == 1001

"""supervise.readers: one task calls back for every readable descriptor (real pipes)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import trio

from supervise.readers import Readers
from support import eventually

Pipe = tuple[int, int]


@pytest.fixture
async def readers() -> AsyncIterator[Readers]:
    chosen = Readers()
    async with trio.open_nursery() as nursery:
        await nursery.start(chosen.run)
        yield chosen
        nursery.cancel_scope.cancel()


@pytest.fixture
def pipe(readers: Readers) -> Iterator[Callable[[], Pipe]]:
    """Makes non-blocking pipes; each is forgotten by `readers` and closed after the test."""
    made: list[Pipe] = []

    def make() -> Pipe:
        made.append(os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK))
        return made[-1]

    yield make
    for read_end, write_end in made:
        readers.forget(read_end)
        os.close(read_end)
        os.close(write_end)


async def test_each_readable_descriptor_gets_its_own_callback(
    readers: Readers, pipe: Callable[[], Pipe]
) -> None:
    pipes = [pipe() for _ in range(3)]
    got: list[tuple[int, bytes]] = []
    for number, (read_end, _) in enumerate(pipes):
        readers.watch(read_end, lambda n=number, fd=read_end: got.append((n, os.read(fd, 99))))
    os.write(pipes[2][1], b"two")
    os.write(pipes[0][1], b"zero")
    await eventually(lambda: len(got) == 2, what="both read")
    assert sorted(got) == [(0, b"zero"), (2, b"two")]


async def test_a_forgotten_descriptor_is_not_called_back(
    readers: Readers, pipe: Callable[[], Pipe]
) -> None:
    read_end, write_end = pipe()
    calls: list[bytes] = []
    readers.watch(read_end, lambda: calls.append(os.read(read_end, 99)))
    readers.forget(read_end)
    readers.forget(read_end)  # twice: no error
    assert read_end not in readers
    witness_read, witness_write = pipe()  # still watched: its callback marks a round done
    witnessed: list[bytes] = []
    readers.watch(witness_read, lambda: witnessed.append(os.read(witness_read, 99)))
    os.write(write_end, b"unread")
    os.write(witness_write, b"seen")
    await eventually(lambda: witnessed, what="the watched pipe read")
    assert calls == []


async def test_end_of_file_is_readable_too(readers: Readers) -> None:
    read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)  # its own: closed here
    seen: list[bytes] = []

    def on_readable() -> None:
        seen.append(os.read(read_end, 99))
        if seen[-1] == b"":
            readers.forget(read_end)

    try:
        readers.watch(read_end, on_readable)
        os.close(write_end)
        await eventually(lambda: seen == [b""], what="EOF seen")
    finally:
        readers.forget(read_end)
        os.close(read_end)


async def test_a_callback_that_raises_is_dropped_and_the_others_go_on(
    readers: Readers, pipe: Callable[[], Pipe], capfd: pytest.CaptureFixture[str]
) -> None:
    bad, good = pipe(), pipe()
    got: list[bytes] = []

    def explode() -> None:
        raise ValueError("broken callback")

    readers.watch(bad[0], explode)
    readers.watch(good[0], lambda: got.append(os.read(good[0], 99)))
    os.write(bad[1], b"x")
    await eventually(lambda: bad[0] not in readers, what="bad one dropped")
    os.write(good[1], b"still read")
    await eventually(lambda: got == [b"still read"], what="good one read")
    assert "broken callback" in capfd.readouterr().err


async def test_watching_again_replaces_the_callback(
    readers: Readers, pipe: Callable[[], Pipe]
) -> None:
    read_end, write_end = pipe()
    got: list[str] = []
    readers.watch(read_end, lambda: got.append("old"))
    readers.watch(read_end, lambda: got.append(os.read(read_end, 99).decode()))
    os.write(write_end, b"new")
    await eventually(lambda: got == ["new"], what="new callback")

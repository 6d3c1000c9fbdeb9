"""svscan's log pipes: a service NAME with NAME/log/ writes to the logger through one pipe.

Real processes and a real pipe: loggers are ``cat`` appending to a file in
the log directory, writers are small shell loops. The pipe belongs to svscan
for the life of the entry, so either end can die and be restarted without a
line lost or a partial line delivered.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

from support import (
    NUMBERS,
    eventually,
    kill_idle_logger,
    log_lines,
    make_service,
    new_pid,
    numbers_break,
    pid_alive,
    read_status,
    scan_root,
    started,
    with_log,
)


async def test_service_output_reaches_its_logger(tmp_path: Path, start_svscan: Any) -> None:
    """What NAME/run writes to stdout is what NAME/log/run reads on stdin."""
    root = scan_root(tmp_path)
    service = with_log(root, "talk", 'echo "hello from $$"; exec sleep 1000')
    start_svscan(root)
    pid = (await started(service)).pid
    await started(service / "log")
    await eventually(lambda: f"hello from {pid}" in log_lines(service / "log"), what="line logged")
    assert log_lines(service / "log") == [f"hello from {pid}"]


async def test_logger_starts_first_and_stops_last(tmp_path: Path, start_svscan: Any) -> None:
    """The logger is up before the service starts; on SIGTERM it outlives the service.

    The service's last words (from its TERM trap and from ./finish, both
    written after it was told to stop) must still reach the logger's file.
    """
    root = scan_root(tmp_path)
    service = with_log(
        root, "order",
        "trap 'echo last-words; exit 0' TERM\necho first\nwhile :; do sleep 0.1; done",
        finish="echo finish-said",
    )
    daemon = start_svscan(root)
    main = await started(service)
    log = await started(service / "log")
    assert log.stamp.unix() <= main.stamp.unix()
    await eventually(lambda: log_lines(service / "log") == ["first"], what="first line (trap set)")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert log_lines(service / "log") == ["first", "last-words", "finish-said"]
    assert not pid_alive(main.pid) and not pid_alive(log.pid)


async def test_no_line_lost_while_the_logger_is_killed(tmp_path: Path, start_svscan: Any) -> None:
    """SIGKILL the logger three times while the writer writes: every line arrives once, in order.

    Each kill hits a ``cat`` asleep on an empty pipe (the writer is paused
    with ``p`` for that instant), so cat itself holds nothing that could be
    lost; the writer is continued at once and writes into the pipe while the
    logger is dead (its run sleeps 0.3 s before it reads again).
    """
    root = scan_root(tmp_path)
    service = with_log(root, "numbers", NUMBERS, log_run="sleep 0.3; exec cat >> ./lines")
    log = service / "log"
    daemon = start_svscan(root)
    writer = (await started(service)).pid
    logger = (await started(log)).pid
    for _ in range(3):
        await eventually(lambda: len(log_lines(log)) > 500, what="lines flowing")
        await kill_idle_logger(service, writer, logger)
        logger = await new_pid(log, logger)
    seen = len(log_lines(log))
    await eventually(lambda: len(log_lines(log)) > seen + 500, what="lines after the last restart")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert numbers_break(log) is None, numbers_break(log)
    assert read_status(service).pid == 0 and not pid_alive(writer)


async def test_no_partial_line_when_the_writer_is_killed(
    tmp_path: Path, start_svscan: Any
) -> None:
    """SIGKILL the writer three times: the logger is untouched and gets every run's lines whole.

    Each run writes ``PID N`` for N = 1, 2, 3...; every line logged must be
    complete, and each run's numbers must go 1..k with no gap or repeat.
    """
    root = scan_root(tmp_path)
    service = with_log(
        root, "writer",
        'i=1\nwhile :; do echo "$$ $i"; i=$((i+1)); case $i in *00) sleep 0.01;; esac; done',
    )
    log = service / "log"
    daemon = start_svscan(root)
    logger = (await started(log)).pid
    writers = [(await started(service)).pid]
    for _ in range(3):
        await eventually(
            lambda w=writers[-1]: sum(line.startswith(f"{w} ") for line in log_lines(log)) > 200,
            what="this run's lines logged",
        )
        os.kill(writers[-1], signal.SIGKILL)
        writers.append(await new_pid(service, writers[-1]))
    await eventually(
        lambda w=writers[-1]: any(line.startswith(f"{w} ") for line in log_lines(log)),
        what="the last run's lines logged",
    )
    assert read_status(log).pid == logger and pid_alive(logger)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    runs: dict[int, list[int]] = {}
    for line in log_lines(log):
        match = re.fullmatch(r"(\d+) (\d+)", line)
        assert match, f"partial or garbled line {line!r}"
        runs.setdefault(int(match[1]), []).append(int(match[2]))
    assert sorted(runs) == sorted(writers)
    for pid, numbers in runs.items():
        assert numbers == list(range(1, len(numbers) + 1)), f"run {pid} has a gap"


async def test_service_without_log_writes_to_svscans_stdout(
    tmp_path: Path, start_svscan: Any
) -> None:
    """No log/: the service's stdout is svscan's own stdout."""
    root = scan_root(tmp_path)
    service = make_service(root, "plain", 'echo "plain says hi from $$"; exec sleep 1000')
    with_log(root, "logged", 'echo "logged says hi from $$"; exec sleep 1000')
    daemon = start_svscan(root)
    pid = (await started(service)).pid
    logged = (await started(root / "logged")).pid
    await eventually(lambda: f"plain says hi from {pid}" in daemon.stderr(), what="line in stdout")
    await eventually(lambda: log_lines(root / "logged" / "log"), what="logged line")
    assert f"logged says hi from {logged}" not in daemon.stderr()


async def test_logger_drains_buffered_lines_on_shutdown(
    tmp_path: Path, start_svscan: Any
) -> None:
    """10,000 lines wait in the pipe; SIGTERM; the service is stopped, then the logger
    (which starts reading only after that) still gets them all, and svscan exits 0."""
    root = scan_root(tmp_path)
    service = with_log(
        root, "burst",
        "i=1\nwhile [ $i -le 10000 ]; do echo $i; i=$((i+1)); done\n: > written\nexec sleep 1000",
        log_run="while [ ! -e gate ]; do sleep 0.05; done\nexec cat >> ./lines",
    )
    log = service / "log"
    daemon = start_svscan(root)
    writer = (await started(service)).pid
    await eventually(lambda: (service / "written").exists(), what="10,000 lines written")
    assert not (log / "lines").exists()
    daemon.signal(signal.SIGTERM)
    await eventually(lambda: not pid_alive(writer), what="service down")
    assert daemon.process.poll() is None, "svscan exited before its logger drained"
    (log / "gate").write_text("")
    assert daemon.wait() == 0
    assert log_lines(log) == [str(n) for n in range(1, 10001)]

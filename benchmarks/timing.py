"""What every benchmark module shares: wall time of a command, rounds, summaries, Markdown.

A command is timed from just before ``posix_spawn`` to just after ``waitpid``: that is what a
shell loop pays for it (fork+exec, interpreter start, imports, work, exit). ``posix_spawn``
rather than `subprocess` because it adds the least of our own overhead, and the same method
is used for every command, floors included, so the ratios compare like with like.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

Command = list[str]


@dataclass(frozen=True)
class Summary:
    """One command's samples reduced to what the tables print (milliseconds)."""

    median: float
    minimum: float
    maximum: float
    runs: int
    failures: int  # runs that did not exit 0: their times measure an error path

    @classmethod
    def of(cls, samples: list[float], failures: int) -> Summary:
        return cls(statistics.median(samples), min(samples), max(samples), len(samples), failures)


def wall_ms(argv: Command, env: dict[str, str], devnull: int) -> tuple[float, int]:
    """(milliseconds from spawn to reaped exit, exit code) of one run of `argv`.

    stdin, stdout and stderr are /dev/null, so no terminal or pipe reader slows the command.
    `argv[0]` must be a path: there is no PATH search inside the timed span.
    """
    actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter_ns() - start
    return elapsed / 1e6, os.waitstatus_to_exitcode(status)


def round_robin(commands: dict[str, Command], rounds: int, warmup: int) -> dict[str, Summary]:
    """Run the commands A B C A B C ... so that machine noise hits all of them alike.

    The first `warmup` rounds are run and thrown away (page cache, first exec of each binary).
    """
    samples, failures = round_robin_samples(commands, rounds, warmup)
    return {name: Summary.of(samples[name], failures[name]) for name in commands}


def round_robin_samples(
    commands: dict[str, Command], rounds: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """`round_robin`'s samples themselves (ms per command), and each command's failed runs."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    failures = dict.fromkeys(commands, 0)
    env = dict(os.environ)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for number in range(warmup + rounds):
            for name, argv in commands.items():
                elapsed, code = wall_ms(argv, env, devnull)
                if number >= warmup:
                    samples[name].append(elapsed)
                    failures[name] += code != 0
            if (number + 1 - warmup) % 10 == 0 and number >= warmup:
                print(f"  round {number + 1 - warmup}/{rounds}", flush=True)
    finally:
        os.close(devnull)
    return samples, failures


def compile_bytecode(python: str, *paths: str, cwd: str | None = None) -> str:
    """Write the .pyc files of `paths` and say so, for the report.

    Where PYTHONDONTWRITEBYTECODE is set (as here), a module without a .pyc is compiled from
    source at every import, and a client benchmark would measure the compiler.
    """
    subprocess.run([python, "-m", "compileall", "-q", *paths], check=True, cwd=cwd)
    setting = os.environ.get("PYTHONDONTWRITEBYTECODE")
    why = f"PYTHONDONTWRITEBYTECODE={setting} here" if setting else "so no import compiles"
    return f"bytecode compiled first (`python -m compileall -q {' '.join(paths)}`; {why})"


def interpreter_version(python: str) -> str:
    """The version of `python` itself, which need not be the one running this script."""
    code = "import sys; print(sys.version.split()[0])"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def cpu_model() -> str:
    """/proc/cpuinfo's model name, or the platform's word for the machine."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine(python: str) -> dict[str, str]:
    """What a reader needs to compare two result files: when, on what, with which Python."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus (nproc)": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_model(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{interpreter_version(python)} ({python})",
    }


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table; cells are written as given (numbers right-aligned)."""
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def publish(text: str, output: Path) -> None:
    """Write a benchmark's report to `output` (creating its directory) and print it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)
    print(f"written to {output}")


def replace_section(document: str, heading: str, text: str) -> str:
    """`document` with its section under `heading` (a ``## `` line) replaced by `text`,
    which starts with that heading (added at the end if absent)."""
    start = document.find(heading + "\n")
    if start < 0:
        return document.rstrip("\n") + "\n\n" + text if document.strip() else text
    end = document.find("\n## ", start + len(heading))
    rest = "" if end < 0 else document[end:]
    return document[:start] + text.rstrip("\n") + "\n" + rest

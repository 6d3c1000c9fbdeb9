"""Wall time of our run-script tools, alone and chained three deep, against daemontools' C tools.

Why: a run script may chain three of them (``envdir ./env softlimit -o 1000 setuidgid
nobody ./daemon``), and each link starts an interpreter, so what they cost is almost all
start-up; they import nothing they do not need (never trio) for that reason. This measures:

- the floor, ``.venv/bin/python -c pass`` (the interpreter our console scripts run), and
  ``/bin/true`` alone (the end of every chain here, so what is left is the tools' cost);
- ``python -c "import os; os.execv('/bin/true', ...)"``: a tool that execs never shuts the
  interpreter down, so its own floor is a little lower; this row shows by how much;
- a chain of three of ours, ``envdir ENVDIR softlimit -o 1000 setuidgid nobody /bin/true``,
  and the same chain of Debian's C tools. Three interpreters start one after another, so the
  chain's natural cost is about 3x the floor: the report also gives chain / 3, the cost of
  one link, against the floor;
- each of our six tools alone in front of ``/bin/true``, and the same C tool.

No target was set: the report prints the ratios, and exits 0. ``setuidgid`` needs root; run
unprivileged, the chain's third link is ``envuidgid nobody`` instead, and the report says so.

    python -m benchmarks.runtools [--rounds 50] [--warmup 3] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
import tempfile
from pathlib import Path

from benchmarks import timing
from benchmarks.clients import (
    BIN,
    DEBIAN,
    FLOOR,
    ROOT,
    Bench,
    exit_on_sigterm,
    failures,
    python3_on_path,
    table,
)
from benchmarks.timing import Summary

OUTPUT = ROOT / "benchmarks" / "results" / "runtools.md"

TRUE = "/bin/true"
ACCOUNT = "nobody"
TRUE_LABEL = "/bin/true"
EXEC_CODE = f"import os; os.execv('{TRUE}', ['{TRUE}'])"
EXEC_FLOOR = f'python -c "{EXEC_CODE}"'
CHAIN = "chain of 3"
C_CHAIN = "C chain of 3"
LINKS = 3

# A small envdir: a few variables, one empty file (envdir removes that variable), one file
# whose second line envdir ignores, one dot-file envdir skips.
ENV_FILES = {
    "BENCH_NAME": "runtools\n",
    "BENCH_PATH": "/usr/local/bin:/usr/bin:/bin\n",
    "BENCH_OPTIONS": "--verbose --port 8080  \nignored second line\n",
    "BENCH_LANG": "C.UTF-8\n",
    "BENCH_REMOVED": "",
    ".hidden": "skipped\n",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runtools", description=__doc__)
    parser.add_argument("--rounds", type=int, default=50, help="measured rounds (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="Markdown result file")
    return parser.parse_args(argv)


def build_envdir(directory: Path) -> Path:
    """`directory` filled with ENV_FILES, for ``envdir``."""
    directory.mkdir()
    for name, content in ENV_FILES.items():
        (directory / name).write_text(content)
    return directory


def third_link(root: bool) -> list[str]:
    """The chain's last tool and its argument: setuidgid as root, else envuidgid (no privilege)."""
    return ["setuidgid" if root else "envuidgid", ACCOUNT]


def chain(directory: Path, envdir: Path, root: bool) -> list[str]:
    """envdir ENVDIR softlimit -o 1000 setuidgid nobody /bin/true, each tool from `directory`."""
    last, account = third_link(root)
    return [
        str(directory / "envdir"),
        str(envdir),
        str(directory / "softlimit"),
        "-o",
        "1000",
        str(directory / last),
        account,
        TRUE,
    ]


def alone(envdir: Path, lockfile: Path, root: bool) -> list[tuple[str, list[str]]]:
    """(label, arguments between the tool's name and /bin/true) for each tool timed alone."""
    tools = [
        (f"envdir ENVDIR {TRUE}", ["envdir", str(envdir)]),
        (f"softlimit -o 1000 {TRUE}", ["softlimit", "-o", "1000"]),
        (f"setuidgid {ACCOUNT} {TRUE}", ["setuidgid", ACCOUNT]),
        (f"setlock FILE {TRUE}", ["setlock", str(lockfile)]),
        (f"pgrphack {TRUE}", ["pgrphack"]),
        (f"envuidgid {ACCOUNT} {TRUE}", ["envuidgid", ACCOUNT]),
    ]
    return [(label, args) for label, args in tools if root or args[0] != "setuidgid"]


def benches(envdir: Path, lockfile: Path, root: bool) -> list[Bench]:
    """Everything timed, in round-robin order: floors, ours, daemontools' (if installed)."""
    ours = [
        Bench(FLOOR, [str(BIN / "python"), "-c", "pass"]),
        *python3_on_path(),
        Bench(EXEC_FLOOR, [str(BIN / "python"), "-c", EXEC_CODE]),
        Bench(TRUE_LABEL, [TRUE]),
        Bench(CHAIN, chain(BIN, envdir, root), C_CHAIN),
    ]
    theirs = [Bench(C_CHAIN, chain(DEBIAN, envdir, root))]
    for label, (tool, *args) in alone(envdir, lockfile, root):
        ours.append(Bench(label, [str(BIN / tool), *args, TRUE], f"C {label}"))
        theirs.append(Bench(f"C {label}", [str(DEBIAN / tool), *args, TRUE]))
    return ours + [b for b in theirs if os.access(b.argv[0], os.X_OK)]


# --- the report ----------------------------------------------------------------------------


def chain_lines(results: dict[str, Summary]) -> list[str]:
    """The chain of three: against 3 floors, per link against one floor, and against C's."""
    floor, true = results[FLOOR].median, results[TRUE_LABEL].median
    ours = results[CHAIN].median
    link = ours / LINKS
    lines = [
        f"- chain of {LINKS} of ours: {ours:.1f} ms = {ours / floor:.2f}x the floor "
        f"({floor:.1f} ms). Each link starts an interpreter, so about {LINKS}x is the "
        f"natural cost of the chain, not overhead: {ours / (LINKS * floor):.2f}x of "
        f"{LINKS} floors",
        f"- per link (chain / {LINKS}): {link:.1f} ms = {link / floor:.2f}x the floor; "
        f"without `/bin/true` ({true:.1f} ms), (chain - true) / {LINKS}: "
        f"{(ours - true) / LINKS:.1f} ms = {(ours - true) / LINKS / floor:.2f}x the floor",
    ]
    if C_CHAIN in results:
        theirs = results[C_CHAIN].median
        lines.append(
            f"- against the C chain ({theirs:.1f} ms): {ours / theirs:.1f}x, "
            f"{ours - theirs:.1f} ms more per start of the service "
            f"({(ours - theirs) / LINKS:.1f} ms per link)"
        )
    else:
        lines.append(f"- no C chain: `{DEBIAN / 'envdir'}` is not installed")
    return lines


def report(
    args: argparse.Namespace,
    benches_: list[Bench],
    results: dict[str, Summary],
    compiled: str,
    root: bool,
) -> str:
    """The whole Markdown result file."""
    about = timing.machine(str(BIN / "python"))
    about["rounds"] = f"{args.rounds} measured, after {args.warmup} warm-up rounds"
    last = " ".join(third_link(root))
    chain_text = f"`envdir ENVDIR softlimit -o 1000 {last} {TRUE}`"
    unprivileged = (
        []
        if root
        else [f"- not root: the chain's third link is `{last}` and `setuidgid` is not timed"]
    )
    return "\n".join(
        [
            "# Run-script tool benchmarks",
            "",
            *(f"- {key}: {value}" for key, value in about.items()),
            f"- {compiled}",
            "- wall time from `posix_spawn` to `waitpid`, stdin/stdout/stderr `/dev/null`, "
            "commands interleaved round-robin; `C` is Debian's daemontools",
            f"- {CHAIN} is {chain_text} with `.venv/bin`'s tools, {C_CHAIN} the same with "
            f"`{DEBIAN}`'s; `ENVDIR` holds {len(ENV_FILES)} files (one empty, one dot-file), "
            "`FILE` is a lock file in the same temporary directory",
            "- the floor is the interpreter our console scripts run; `python3` is whatever "
            "PATH finds, with its own site-packages (and, if a script, e.g. a pyenv shim, "
            "the script's cost too)",
            f"- `{EXEC_FLOOR}` execs as the tools do, and so skips the interpreter's "
            "shutdown that `-c pass` pays: the floor a tool that imports nothing would have",
            *unprivileged,
            "",
            table(benches_, results),
            "",
            "## Chain of three",
            "",
            *chain_lines(results),
            *failures(results),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    exit_on_sigterm()
    pwd.getpwnam(ACCOUNT)  # KeyError now rather than 50 rounds of failures
    root = os.geteuid() == 0
    compiled = timing.compile_bytecode(str(BIN / "python"), "src", cwd=str(ROOT))
    print(compiled, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-runtools-") as tmp:
        envdir = build_envdir(Path(tmp) / "env")
        benches_ = benches(envdir, Path(tmp) / "lock", root)
        print(f"timing {len(benches_)} commands, {args.rounds} rounds", flush=True)
        results = timing.round_robin({b.label: b.argv for b in benches_}, args.rounds, args.warmup)
    text = report(args, benches_, results, compiled, root)
    timing.publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

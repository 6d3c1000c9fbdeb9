"""The five tree supervisors compared, and their clients: how to start, stop and drive each.

A `Scanner` starts one supervisor on a tree of N service directories and stops the whole
tree the way its manual says to; a `Client` is the command-line program a person uses with
it, as templates the probes fill in (``DIR`` one service directory, ``DIRS`` all of them,
``NAME`` the service's name, ``CONF`` supervisord's configuration file, ``PROGRAM`` the
service's supervisord program, ``tree:NAME``).

supervisord is not a scanner of directories: `write_supervisord_conf` gives it the same
tree as N ``[program:sNNNNN]`` sections (``command`` the directory's ``run``, ``directory``
the directory, ``autorestart=true``, ``startsecs=0`` so a started program counts as up at
once, its output discarded), all in one ``[group:tree]``, plus a unix socket for
``supervisorctl``. The group is there for stop-all: supervisord stops its groups one after
another, and a group whose process exited but was not reaped in the same turn of its loop
waits for its 1 s poll timeout, so N ungrouped programs stop in up to N seconds (30 took
16 s in a trial run here); one group is stopped in one go, as the other supervisors stop a
tree. It runs from its own
virtual environment, `SUPERVISOR_VENV`, which ``make bench`` creates (``pip install
supervisor``).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.clients import BIN, DEBIAN, ROOT
from benchmarks.procs import run_quietly

SUPERVISOR_VENV = ROOT / ".venv" / "supervisor"
SUPERVISOR_BIN = SUPERVISOR_VENV / "bin"
SUPERVISORD_CONF = ".supervisord.conf"  # in the tree: a dot-file no scanner takes for a service
SUPERVISORD_SOCKET = ".supervisord.sock"
SUPERVISORD_GROUP = "tree"
SUPERVISORD_SECRET = "bench"  # an unauthenticated socket makes supervisord log a CRIT line

Stopper = Callable[[int, list[Path], Path], None]
Preparer = Callable[[Path, list[Path]], None]

# What the probes ask of every client (`Client.commands` keys).
UP, DOWN, SIGNAL, CHECK, STATUS, STATUS_ALL = "up", "down", "signal", "check", "status", "all"


# --- clients -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """One supervisor's command-line client: per operation, a command template (or none)."""

    key: str
    commands: dict[str, list[str]]

    def argv(self, op: str, service: Path, services: list[Path]) -> list[str] | None:
        """The command for `op` on `service` (``DIRS``: every one of `services`)."""
        template = self.commands.get(op)
        if template is None:
            return None
        words = {"DIR": [str(service)], "NAME": [service.name], "DIRS": list(map(str, services)),
                 "CONF": [str(service.parent / SUPERVISORD_CONF)],
                 "PROGRAM": [f"{SUPERVISORD_GROUP}:{service.name}"]}
        return [part for word in template for part in words.get(word, [word])]

    def text(self, op: str) -> str:
        """The template as a reader would type it (program names without their directory)."""
        template = self.commands.get(op)
        if template is None:
            return "none"
        text = " ".join([Path(template[0]).name, *template[1:]]).replace(" -c CONF", "")
        return text.replace("PROGRAM", f"{SUPERVISORD_GROUP}:NAME")

    @property
    def installed(self) -> bool:
        return all(os.access(template[0], os.X_OK) for template in self.commands.values())


def svc_family(key: str, bindir: Path) -> Client:
    """daemontools' three clients, ours or Debian's C ones, from `bindir`."""
    svc, svok, svstat = (str(bindir / name) for name in ("svc", "svok", "svstat"))
    return Client(key, {
        UP: [svc, "-u", "DIR"], DOWN: [svc, "-d", "DIR"], SIGNAL: [svc, "-h", "DIR"],
        CHECK: [svok, "DIR"], STATUS: [svstat, "DIR"], STATUS_ALL: [svstat, "DIRS"],
    })


OUR_SVC = svc_family("Python (ours)", BIN)
C_SVC = svc_family("C (daemontools)", DEBIAN)
SV = Client("sv", {
    UP: [str(DEBIAN / "sv"), "up", "DIR"], DOWN: [str(DEBIAN / "sv"), "down", "DIR"],
    SIGNAL: [str(DEBIAN / "sv"), "hup", "DIR"], STATUS: [str(DEBIAN / "sv"), "status", "DIR"],
    STATUS_ALL: [str(DEBIAN / "sv"), "status", "DIRS"],
})  # runit has no svok
S6_SVC = Client("s6-svc", {
    UP: [str(DEBIAN / "s6-svc"), "-u", "DIR"], DOWN: [str(DEBIAN / "s6-svc"), "-d", "DIR"],
    SIGNAL: [str(DEBIAN / "s6-svc"), "-h", "DIR"], CHECK: [str(DEBIAN / "s6-svok"), "DIR"],
    STATUS: [str(DEBIAN / "s6-svstat"), "DIR"],
})  # s6-svstat reads one directory
CTL = str(SUPERVISOR_BIN / "supervisorctl")
SUPERVISORCTL = Client("supervisorctl", {
    UP: [CTL, "-c", "CONF", "start", "PROGRAM"], DOWN: [CTL, "-c", "CONF", "stop", "PROGRAM"],
    SIGNAL: [CTL, "-c", "CONF", "signal", "HUP", "PROGRAM"], CHECK: [CTL, "-c", "CONF", "pid"],
    STATUS: [CTL, "-c", "CONF", "status", "PROGRAM"], STATUS_ALL: [CTL, "-c", "CONF", "status"],
})


# --- scanners ----------------------------------------------------------------------------


def signal_to(sig: signal.Signals) -> Stopper:
    def stop(pid: int, services: list[Path], tree: Path) -> None:
        os.kill(pid, sig)

    return stop


def svc_dx_then_term(pid: int, services: list[Path], tree: Path) -> None:
    run_quietly([str(DEBIAN / "svc"), "-dx", *map(str, services)])
    os.kill(pid, signal.SIGTERM)


def s6_svscanctl_t(pid: int, services: list[Path], tree: Path) -> None:
    run_quietly([str(DEBIAN / "s6-svscanctl"), "-t", str(tree)])


def write_supervisord_conf(tree: Path, services: list[Path]) -> None:
    """supervisord's configuration for `services`: one program each, in `tree`."""
    secret = f"username={SUPERVISORD_SECRET}\npassword={SUPERVISORD_SECRET}\n"
    lines = [
        f"[unix_http_server]\nfile=%(here)s/{SUPERVISORD_SOCKET}\n{secret}",
        # loglevel error: every stop, exit and restart is a WARN line, and the benchmark
        # reports whatever a supervisor writes; minfds: two pipes per program, and a margin
        "[supervisord]\nnodaemon=true\nlogfile=%(here)s/.supervisord.log\nlogfile_maxbytes=0\n"
        f"loglevel=error\npidfile=%(here)s/.supervisord.pid\nminfds={max(1024, 5 * len(services))}"
        f"\nchildlogdir=%(here)s\n" + ("user=root\n" if os.geteuid() == 0 else ""),
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
        f"[supervisorctl]\nserverurl=unix://%(here)s/{SUPERVISORD_SOCKET}\n{secret}",
    ]
    lines += [f"[program:{service.name}]\ncommand={service}/run\ndirectory={service}\n"
              "autorestart=true\nstartsecs=0\nredirect_stderr=true\nstdout_logfile=NONE\n"
              for service in services]
    lines.append(f"[group:{SUPERVISORD_GROUP}]\n"
                 f"programs={','.join(service.name for service in services)}\n")
    (tree / SUPERVISORD_CONF).write_text("\n".join(lines))


@dataclass(frozen=True)
class Scanner:
    """One tree supervisor: how to start it on a tree of n, how to stop it all, its clients."""

    key: str
    argv: Callable[[Path, int], list[str]]
    stop: Stopper
    stop_text: str
    supervisor: str | None  # the comm of its per-service process, if it has one
    clients: tuple[Client, ...]  # the first is its own
    most: int | None = None  # the most services it can run
    prepare: Preparer | None = None  # what the tree needs beyond its directories

    @property
    def installed(self) -> bool:
        return os.access(self.argv(Path("."), 1)[0], os.X_OK)


OURS = Scanner(
    "ours",
    lambda tree, n: [str(BIN / "python"), "-m", "supervise.svscan_cli", str(tree)],
    signal_to(signal.SIGTERM),
    "SIGTERM",
    None,
    (OUR_SVC, C_SVC),
)
DAEMONTOOLS = Scanner(
    "daemontools",
    lambda tree, n: [str(DEBIAN / "svscan"), str(tree)],
    svc_dx_then_term,
    "`svc -dx DIR/*`, then SIGTERM to svscan",
    "supervise",
    (C_SVC,),
    1000,
)
RUNIT = Scanner(
    "runit",
    lambda tree, n: [str(DEBIAN / "runsvdir"), str(tree)],
    signal_to(signal.SIGHUP),
    "SIGHUP to runsvdir",
    "runsv",
    (SV,),
)
S6 = Scanner(
    "s6",
    lambda tree, n: [str(DEBIAN / "s6-svscan"), "-c", str(max(n, 4)), str(tree)],
    s6_svscanctl_t,
    "`s6-svscanctl -t DIR`",
    "s6-supervise",
    (S6_SVC,),
)
SUPERVISORD = Scanner(
    "supervisord",
    lambda tree, n: [str(SUPERVISOR_BIN / "supervisord"), "-n", "-c",
                     str(tree / SUPERVISORD_CONF)],
    signal_to(signal.SIGTERM),
    "SIGTERM",
    None,
    (SUPERVISORCTL,),
    prepare=write_supervisord_conf,
)
SCANNERS = (OURS, DAEMONTOOLS, RUNIT, S6, SUPERVISORD)
BASELINE = DAEMONTOOLS


def versions() -> str:
    """The version of each supervisor compared (Debian's packages, supervisor's venv)."""
    told = []
    for package in ("daemontools", "runit", "s6"):
        got = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                             capture_output=True, text=True)
        told.append(f"{package} {got.stdout.strip() if got.returncode == 0 else 'not installed'}")
    supervisord = SUPERVISOR_BIN / "supervisord"
    if os.access(supervisord, os.X_OK):
        got = subprocess.run([str(supervisord), "--version"], capture_output=True, text=True)
        told.append(f"supervisor {got.stdout.strip()} (PyPI)")
    else:
        told.append("supervisor not installed")
    return ", ".join(told)

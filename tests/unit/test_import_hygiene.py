"""The pure modules must not import trio, and ``supervise/__init__.py`` must import nothing.

``svc``/``svstat`` import the codecs; trio costs 100-120 ms to import
(``python -X importtime``; attrs 20 ms, the interpreter 25 ms), which scripts calling svok in a loop
would pay every time. Checked in a fresh interpreter, since this test
process has trio loaded already (pytest-trio).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import supervise

PURE = ["supervise", "supervise.tai", "supervise.status", "supervise.control", "supervise.machine",
        "supervise.kinds", "supervise.record", "supervise.alphabet", "supervise.say",
        "supervise.dump", "supervise.adoption", "cmdline", "cmdline.out",
        "svlog", "svlog.script", "svlog.pattern", "svlog.stamp", "svlog.lines", "svlog.rotation",
        "svlog.selection", "svlog.logdir", "svlog.logger", "svlog.signals", "svlog.source",
        "svlog.peek", "svlog.tee", "svlog.main",
        "svlog.tai64nlocal"]

_PROBE = """
import importlib, json, sys
before = set(sys.modules)
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _newly_imported(module: str) -> list[str]:
    """The modules a fresh interpreter loads to import `module`."""
    src = str(Path(supervise.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize("module", PURE)
def test_pure_module_does_not_load_trio(module: str) -> None:
    """Importing a codec or the machine leaves trio (and its submodules) unloaded."""
    loaded = _newly_imported(module)
    assert module in loaded
    assert [name for name in loaded if name == "trio" or name.startswith("trio.")] == []


def test_package_init_imports_nothing() -> None:
    """``import supervise`` adds no supervise.* submodule and no trio."""
    loaded = _newly_imported("supervise")
    assert [name for name in loaded if name.startswith(("supervise.", "trio"))] == []


def test_package_init_has_no_import_statements() -> None:
    """The same rule read from the source: __init__.py holds a docstring and nothing else.

    Catches a future ``from supervise.status import ...`` that happens to be cheap today.
    """
    source = Path(supervise.__file__).read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == []


# --- the clients: a start-up budget of a few milliseconds ---------------------------

#: Every client module: the programs, the library they share, the command-line layer, and
#: the import-free record, alphabet and codec modules they read.
CLIENTS = [
    "svc.svc", "svc.svstat", "svc.svok", "svc.qm",
    "svc.view", "svc.words", "svc.send", "svc.wait", "svc.watch", "svc.check",
    "cmdline.out", "cmdline.exits", "cmdline.getopt", "cmdline.cwd", "cmdline.version",
    "supervise.layout", "supervise.record", "supervise.tai", "supervise.value",
    "supervise.alphabet", "supervise.errtext", "supervise.inotify", "supervise.tree",
]

#: All a client may load beyond a bare interpreter: our import-free modules and cheap
#: builtins. enum, typing, re, collections, attrs and trio each cost more than the
#: 1.3x-of-`python -c pass` budget (``python -X importtime``: trio 100-120 ms).
CLIENT_ALLOWED = {
    "__future__", "errno", "fcntl", "select",
    "supervise", "svc", "cmdline", *CLIENTS,
}

#: What no client may load, directly or through another module.
FORBIDDEN = ("trio", "attrs", "attr", "enum", "typing")


@pytest.mark.parametrize("module", CLIENTS)
def test_client_loads_only_what_it_must(module: str) -> None:
    """A client's import loads nothing outside the allow-list: no trio, attrs, enum, typing."""
    loaded = set(_newly_imported(module))
    assert module in loaded
    assert loaded - CLIENT_ALLOWED == set()


@pytest.mark.parametrize("module", CLIENTS)
def test_client_never_loads_trio_attrs_enum_or_typing(module: str) -> None:
    """Clients never load trio, attrs, enum or typing, said plainly (the allow-list implies it)."""
    loaded = _newly_imported(module)
    assert [name for name in loaded if name.split(".")[0] in FORBIDDEN] == []


def test_every_client_module_is_checked() -> None:
    """A new module under svc/ or cmdline/ is a client module: it must be in CLIENTS."""
    src = Path(supervise.__file__).resolve().parent.parent
    found = {
        f"{package}.{path.stem}"
        for package in ("svc", "cmdline")
        for path in (src / package).glob("*.py")
        if path.stem != "__init__"
    }
    assert found - set(CLIENTS) == set()


def test_layout_imports_nothing() -> None:
    """supervise.layout, the codec's offsets, loads no other module at all."""
    assert set(_newly_imported("supervise.layout")) == {
        "__future__", "supervise", "supervise.layout",
    }


# --- the run-script tools: a run script may chain three of them -------------------------

RUNTOOLS = [f"runtools.{name}" for name in
            ("envdir", "envuidgid", "setuidgid", "softlimit", "setlock", "pgrphack")]

#: Beyond the clients' allowance: C modules that cost next to nothing, and our own modules.
RUNTOOLS_ALLOWED = {
    "__future__", "errno", "pwd", "resource", "fcntl",
    "supervise", "supervise.errtext", "cmdline", "cmdline.out", "cmdline.exits",
    "cmdline.getopt", "runtools", "runtools.pathexec", "runtools.account", *RUNTOOLS,
}


@pytest.mark.parametrize("module", RUNTOOLS)
def test_run_script_tool_loads_only_what_it_must(module: str) -> None:
    """No trio, attrs, enum, typing, signal or re: only cheap C modules and our own."""
    loaded = set(_newly_imported(module))
    assert module in loaded
    assert loaded - RUNTOOLS_ALLOWED == set()

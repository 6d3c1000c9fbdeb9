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
        "svlog", "svlog.script", "svlog.pattern", "svlog.stamp", "svlog.lines", "svlog.rotation",
        "svlog.selection", "svlog.logdir", "svlog.logger", "svlog.signals", "svlog.main",
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

CLIENTS = ["svc.svc", "svc.svstat", "svc.svok"]

#: All a client may load beyond a bare interpreter: our import-free modules and cheap
#: builtins. enum, typing, re, collections, attrs and trio each cost more than the
#: 1.3x-of-`python -c pass` budget (``python -X importtime``: trio 100-120 ms).
CLIENT_ALLOWED = {
    "__future__", "errno",
    "supervise", "supervise.layout", "supervise.errtext",
    "svc", "svc.out", "svc.cwd", "svc.view", "svc.sgetopt", *CLIENTS,
}


@pytest.mark.parametrize("module", CLIENTS)
def test_client_loads_only_what_it_must(module: str) -> None:
    """A client's import loads nothing outside the allow-list: no trio, attrs, enum, typing."""
    loaded = set(_newly_imported(module))
    assert module in loaded
    assert loaded - CLIENT_ALLOWED == set()


@pytest.mark.parametrize("module", CLIENTS)
def test_client_never_loads_trio_or_attrs(module: str) -> None:
    """Clients never load trio or attrs, said plainly (the allow-list above implies it)."""
    loaded = _newly_imported(module)
    assert [name for name in loaded if name.split(".")[0] in ("trio", "attrs", "attr")] == []


def test_layout_imports_nothing() -> None:
    """supervise.layout, the clients' codec, loads no other module at all."""
    assert set(_newly_imported("supervise.layout")) == {
        "__future__", "supervise", "supervise.layout",
    }


# --- the run-script tools: a run script may chain three of them -------------------------

RUNTOOLS = [f"runtools.{name}" for name in
            ("envdir", "envuidgid", "setuidgid", "softlimit", "setlock", "pgrphack")]

#: Beyond the clients' allowance: C modules that cost next to nothing, and our own modules.
RUNTOOLS_ALLOWED = {
    "__future__", "errno", "pwd", "resource", "fcntl",
    "supervise", "supervise.errtext", "svc", "svc.out", "svc.sgetopt",
    "runtools", "runtools.pathexec", "runtools.account", *RUNTOOLS,
}


@pytest.mark.parametrize("module", RUNTOOLS)
def test_run_script_tool_loads_only_what_it_must(module: str) -> None:
    """No trio, attrs, enum, typing, signal or re: only cheap C modules and our own."""
    loaded = set(_newly_imported(module))
    assert module in loaded
    assert loaded - RUNTOOLS_ALLOWED == set()

"""No import cycles in src/: every module's imports, read with ast, form a graph without one.

Every import statement counts, wherever it is: at the top, inside a function
(a deferred import still ties the two modules together), and under ``if
TYPE_CHECKING:`` (a cycle among annotations is still two modules that each
need the other to be understood). ``from X import Y`` is an edge to ``X.Y``
when that is a module of ours, else to ``X``. Only our own packages are nodes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import supervise

SRC = Path(supervise.__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted(SRC.glob("*/**/*.py"))
        if "egg-info" not in str(path)
    }


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ours that `name` (at `path`) imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {module for module in found if module in known and module != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that ends where it starts, or None."""
    done: set[str] = set()
    for root in sorted(graph):
        if root in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(root, iter(sorted(graph[root])))]
        path.append(root)
        on_path.add(root)
        while stack:
            node, edges = stack[-1]
            step = next(edges, None)
            if step is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif step in on_path:
                return [*path[path.index(step):], step]
            elif step not in done:
                stack.append((step, iter(sorted(graph[step]))))
                path.append(step)
                on_path.add(step)
    return None


def test_the_graph_sees_every_package() -> None:
    """The walk found the packages and the edges it should (a guard against a vacuous pass)."""
    graph = _graph()
    assert {"supervise.machine", "svc.svc", "cmdline.out", "svlog.main", "runtools.envdir"} <= set(
        graph
    )
    assert "supervise.status" in graph["supervise.machine"]
    assert "svc.wait" in graph["svc.svc"]  # an import inside a function counts
    assert "supervise.kinds" in graph["supervise.record"]  # and one under TYPE_CHECKING


def test_no_import_cycle() -> None:
    """The import graph of src/ has no cycle; a failure names one, module by module."""
    cycle = find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
        ({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}, None),  # a diamond is no cycle
    ],
)
def test_find_cycle(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    """The finder itself: a cycle is reported as the path around it, a DAG as None."""
    assert find_cycle(graph) == cycle

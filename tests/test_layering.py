"""The package's structure holds: imports run one way, the manifest is written in
one module, the code passes ruff.

The import graph is read from the source (every ``import`` and ``from ...
import``, at module level or inside functions; not those under ``if
TYPE_CHECKING:``), so an upward import hidden in a function body counts as one.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "influence"
ROOT = PACKAGE.parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> set[str]:
    """Modules of the package that ``name`` imports (the most specific that exists)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def resolve(module: str) -> str | None:
        while module and module not in MODULES:
            module = module.rpartition(".")[0]
        return module or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("influence"):
                    targets.add(resolve(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("influence"):
                for alias in node.names:  # from . import folder: a module itself
                    full = f"{module}.{alias.name}"
                    targets.add(full if full in MODULES else resolve(module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    targets.discard(None)
    targets.discard(name)
    return targets


def import_graph() -> dict[str, set[str]]:
    return {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def _ancestors_only(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Without the edges from a module to the packages above it: importing
    ``influence.reach.cascades`` runs ``influence/reach/__init__.py`` first, but a
    package's ``__init__`` re-exporting its own modules is no cycle."""
    return {name: {t for t in targets if not name.startswith(t + ".")}
            for name, targets in graph.items()}


def test_the_walk_sees_imports_inside_functions():
    graph = import_graph()
    # influence.analysis imports the engines inside analyze()
    assert {"influence.local", "influence.pipeline"} <= graph["influence.analysis"]
    # and it finds a cycle where there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_inside_the_package():
    cycles = _cycles(_ancestors_only(import_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_result_type_does_not_import_its_writers():
    graph = import_graph()
    for low in ("influence.result", "influence.pipeline", "influence.manifest",
                "influence.engine", "influence.columns"):
        upward = graph[low] & {"influence.report", "influence.export", "influence.cli",
                               "influence.analysis", "influence.snapshots"}
        assert not upward, f"{low} imports {sorted(upward)}"


#: Top-level manifest keys and the one module that writes each (the rest: manifest.py).
_OWNERS = {"outputs": "influence.folder"}


def _manifest_keys() -> set[str]:
    import pandas as pd

    from influence import analyze

    events = pd.DataFrame({"source": ["a", "a", "b"], "target": ["b", "c", "c"],
                           "type": ["referral", "share", "share"],
                           "timestamp": ["2026-01-01", "2026-01-02", "2026-01-03"]})
    return set(analyze(events).manifest) | set(_OWNERS) | {"snapshots", "privacy"}


def test_each_manifest_key_is_written_in_one_module():
    keys = _manifest_keys()
    writers: dict[str, set[str]] = {key: set() for key in keys}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # manifest["key"] = ... / something.manifest["key"] = ...
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if (isinstance(target, ast.Subscript)
                            and "manifest" in ast.unparse(target.value)
                            and isinstance(target.slice, ast.Constant)
                            and target.slice.value in keys):
                        writers[target.slice.value].add(name)
            # manifest = {"key": ...}: a manifest being built
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                    and any("manifest" in ast.unparse(t) for t in node.targets)):
                for k in node.value.keys:
                    if isinstance(k, ast.Constant) and k.value in keys:
                        writers[k.value].add(name)
    twice = {key: sorted(mods) for key, mods in writers.items() if len(mods) > 1}
    assert twice == {}, f"manifest keys written in more than one module: {twice}"
    for key, mods in writers.items():
        assert mods <= {_OWNERS.get(key, "influence.manifest")}, (key, mods)


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    run = subprocess.run([ruff, "check", "--output-format", "concise", "influence", "tests",
                          "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_doctests_are_collected():
    """``python -m pytest`` runs the package's doctests (pyproject addopts)."""
    import tomllib

    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "--doctest-modules" in options["ini_options"]["addopts"]
    assert "influence" in options["ini_options"]["testpaths"]


"""No import loops among ``shipml.core`` and the apps' modules, not even ones hidden behind a function-level import.

The graph is read from the source (every ``import``/``from ... import`` anywhere in a module: top level, functions,
classes), not from what happens to be imported at run time, so a loop that only closes when some function runs is
found too. ``from package import name`` is an edge to ``package.name`` when that is a module, else to the package.
Not edges: imports under ``if TYPE_CHECKING:`` (never executed) and entry points named by import strings
(``"pkg.mod:attr"``, resolved on first use by the core).
"""

from __future__ import annotations

import ast
from pathlib import Path

import shipml

SRC = Path(shipml.__file__).parent
SCOPE = ("shipml.core", "shipml.apps")

# Edges left out of the graph, each with its reason: ``(importer, imported)``; an entry that no longer matches an
# import fails the test. Empty: add one only when a loop cannot be broken by moving the shared piece.
ALLOWED: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in the tree, except the bodies of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                walk(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(tree)
    return found


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    return {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}


def import_graph() -> dict[str, set[str]]:
    """Module → the in-scope modules it imports, for every module of ``shipml.core`` and ``shipml.apps``."""
    known = _modules()
    in_scope = {m for m in known if m.startswith(SCOPE)}
    graph: dict[str, set[str]] = {}
    for name in sorted(in_scope):
        tree = ast.parse(known[name].read_text(encoding="utf-8"), filename=str(known[name]))
        targets = set().union(*(_targets(name, known[name], node, known) for node in _imports(tree)))
        graph[name] = {t for t in targets if t in in_scope and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_graph_reads_function_level_imports() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "shipml.core.jobs" in graph and "shipml.apps.cycling.model" in graph
    # a function-level import (apps/__init__.py imports errors inside get()) and a relative one are edges too
    assert "shipml.core.errors" in graph["shipml.apps"]
    assert "shipml.core.execution" in graph["shipml.core.jobs"]


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_loops_in_core_and_apps() -> None:
    graph = import_graph()
    stale = sorted(edge for edge in ALLOWED if edge[1] not in graph.get(edge[0], ()))
    assert not stale, f"allowed import edges that no longer exist (remove them from ALLOWED): {stale}"
    kept = {module: {t for t in targets if (module, t) not in ALLOWED} for module, targets in graph.items()}
    loops = [sorted(c) for c in cycles(kept)]
    assert not loops, "import loops (break each by moving the shared piece into a module both import): " + "; ".join(
        " ↔ ".join(loop) for loop in loops)

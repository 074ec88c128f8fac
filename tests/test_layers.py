"""The layering rules of docs/architecture.md §11, checked over the whole import graph.

Every import of config/, worker/, connectors/ and web/ counts: top level, inside a function and
under ``if TYPE_CHECKING:``. A cycle hidden behind a lazy import is still a cycle, so the graph
is read with ``ast`` (nothing is imported) and every edge is kept with where it was written.

The rules:
- no cycle at all;
- connectors/* imports nothing from worker/ or web/ (they only send);
- config/* imports nothing outside config/ (it is what people configure);
- the timeline and the plan are pure: no store, no connector, no process, no network;
- feature packages never import worker.run, web, worker.kinds or the dispatcher;
- only worker/run/* imports celery, typer, rich or uvicorn (the processes);
- every function-local import outside worker/run/ is listed in LAZY_IMPORTS with its reason.

It runs with plain pytest, so CI (scripts/check) runs it with every other test.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "worker", "connectors", "web")
PROCESS_LIBRARIES = ("celery", "kombu", "typer", "rich", "uvicorn")
# What "I/O" means for the pure modules: storage, sending, processes, network, files.
IO_MODULES = (
    "worker.store",
    "worker.engine",
    "worker.delivery.dispatch",
    "worker.delivery",
    "worker.run",
    "connectors",
    "web",
    "celery",
    "kombu",
    "redis",
    "sqlite3",
    "requests",
    "httpx",
    "socket",
    "urllib.request",
    "subprocess",
    "typer",
    "rich",
    "uvicorn",
)
PURE_MODULES = ("worker.timeline", "config.plan")
FEATURES = (
    "worker.checkins",
    "worker.milestones",
    "worker.calendar",
    "worker.handover",
    "worker.kickoff",
    "worker.plans",
    "worker.inbound",
    "worker.privacy",
)
FEATURE_MAY_NOT_IMPORT = (
    "worker.run",
    "web",
    "worker.kinds",
    "worker.delivery.dispatch",
    "worker.delivery.compose",
)

# Function-local imports outside worker/run/, each with the reason it is deferred.
# (importer, imported): reason.  A new lazy import fails the test until it is added here.
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    (
        "connectors.registry",
        "connectors.outbox",
    ): "plug-in registry: a connector loads on first use",
    ("worker.store", "worker.store.redis"): "plug-in: the redis client only for a redis:// store",
    ("worker.store", "worker.store.sqlite"): "plug-in: the SQLite backend only when it is chosen",
    (
        "connectors.base",
        "config.settings",
    ): "start-up cost: pydantic settings only to read a secret",
    ("config.settings", "config.load"): "start-up cost: the YAML reader only to show a bad value",
}


@dataclass(frozen=True)
class Edge:
    """One import: who imports what, how (top, local, typing) and where."""

    source: str
    target: str
    how: str
    line: int
    names: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.how}, line {self.line})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = modules()


def internal(name: str) -> str | None:
    """The module of ours that `name` lands in, or None for a third-party name."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, how: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import node under `tree`, labelled by the context that holds it."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, how
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _imports(node, "local")
        elif isinstance(node, ast.If) and _is_type_checking(node) and how == "top":
            yield from _imports(node, "typing")
        else:
            yield from _imports(node, how)


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
    """(module imported, name imported from it) for each name of the import."""
    if isinstance(node, ast.Import):
        return [(alias.name, "") for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    # `from worker import checkins` imports the submodule; `from worker.x import f` imports x.
    return [
        (f"{base}.{alias.name}", "") if f"{base}.{alias.name}" in MODULES else (base, alias.name)
        for alias in node.names
    ]


def all_edges() -> list[Edge]:
    """Every import of ours, internal targets resolved to a module, external ones kept whole."""
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, how in _imports(tree, "top"):
            for target, name in _targets(module, path, node):
                resolved = internal(target) or target
                if resolved != module:
                    names = (name,) if name else ()
                    edges.append(Edge(module, resolved, how, node.lineno, names))
    return edges


EDGES = all_edges()


def within(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in EDGES:
        if edge.target in MODULES:
            graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(MODULES):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def broken(rule: str, edges: list[Edge]) -> str:
    return rule + ":\n  " + "\n  ".join(str(e) for e in edges)


def test_the_graph_is_read() -> None:
    # A sanity floor: an empty graph would make every rule below pass vacuously.
    assert len(MODULES) > 50
    assert sum(e.target in MODULES for e in EDGES) > 200
    assert {e.how for e in EDGES} == {"top", "local", "typing"}


def test_no_cycle_counting_every_import() -> None:
    found = cycles()
    print(f"cycles: {len(found)}")
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_connectors_only_send() -> None:
    bad = [
        e for e in EDGES if within(e.source, "connectors") and within(e.target, ("worker", "web"))
    ]
    assert not bad, broken("connectors import worker/ or web/", bad)


def test_config_imports_only_config() -> None:
    bad = [
        e
        for e in EDGES
        if within(e.source, "config") and within(e.target, ("worker", "connectors", "web"))
    ]
    assert not bad, broken("config imports outside config/", bad)


def test_timeline_and_plan_are_pure() -> None:
    bad = [e for e in EDGES if within(e.source, PURE_MODULES) and within(e.target, IO_MODULES)]
    assert not bad, broken("the timeline or the plan reaches I/O", bad)


def test_features_do_not_reach_up() -> None:
    bad = [
        e for e in EDGES if within(e.source, FEATURES) and within(e.target, FEATURE_MAY_NOT_IMPORT)
    ]
    assert not bad, broken("a feature imports the processes, web, kinds or dispatch", bad)


def test_only_processes_import_process_libraries() -> None:
    bad = [
        e
        for e in EDGES
        if within(e.target, PROCESS_LIBRARIES) and not within(e.source, "worker.run")
    ]
    assert not bad, broken("celery/typer/rich/uvicorn outside worker/run/", bad)


def test_every_lazy_import_has_a_reason() -> None:
    lazy = {
        (e.source, e.target)
        for e in EDGES
        if e.how == "local" and e.target in MODULES and not within(e.source, "worker.run")
    }
    print(f"function-local imports outside worker/run/: {len(lazy)}")
    for pair in sorted(lazy):
        print(f"  {pair[0]} -> {pair[1]}: {LAZY_IMPORTS.get(pair, '(no reason)')}")
    unlisted = sorted(lazy - set(LAZY_IMPORTS))
    assert not unlisted, "function-local imports without a reason in LAZY_IMPORTS:\n  " + (
        "\n  ".join(f"{a} -> {b}" for a, b in unlisted)
    )


def test_the_allowlist_has_no_stale_entries() -> None:
    live = {(e.source, e.target) for e in EDGES if e.how == "local"}
    stale = sorted(set(LAZY_IMPORTS) - live)
    assert not stale, f"LAZY_IMPORTS names imports that no longer exist: {stale}"


@pytest.mark.parametrize("rule", ["cycle", "connector"])
def test_the_checks_catch_a_planted_violation(rule: str) -> None:
    # The rules must be able to fail: plant bad edges and see them caught.
    planted = {
        "cycle": [
            Edge("worker.timeline", "worker.clock", "local", 1),
            Edge("worker.clock", "worker.timeline", "typing", 1),
        ],
        "connector": [Edge("connectors.slack", "worker.engine", "typing", 1)],
    }[rule]
    saved = globals()["EDGES"]
    globals()["EDGES"] = saved + planted
    try:
        if rule == "cycle":
            assert any({"worker.timeline", "worker.clock"} <= set(c) for c in cycles())
        else:
            with pytest.raises(AssertionError, match="connectors import"):
                test_connectors_only_send()
    finally:
        globals()["EDGES"] = saved


def test_record_names_live_only_in_store_records() -> None:
    # Collection names are persisted; one home (worker/store/records.py) keeps them stable.
    prefixes = ("checkins:", "done:", "targets:", "calendar:", "invitees:", "requests:", "caldav:")
    names = ("closed", "calendars")
    found = []
    for module, path in MODULES.items():
        if module == "worker.store.records":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and node.values:
                first = node.values[0]
                text = first.value if isinstance(first, ast.Constant) else ""
            elif isinstance(node, ast.Call) and _is_record_call(node) and node.args:
                arg = node.args[0]
                text = arg.value if isinstance(arg, ast.Constant) else ""
                if text in names:
                    found.append(f"{module}:{node.lineno} {text!r}")
                continue
            else:
                continue
            if isinstance(text, str) and text.startswith(prefixes):
                found.append(f"{module}:{node.lineno} {text!r}")
    assert not found, "record names outside worker/store/records.py:\n  " + "\n  ".join(found)


def _is_record_call(node: ast.Call) -> bool:
    method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
    return method in {"records", "get_record", "put_record", "update_record", "records_of"}

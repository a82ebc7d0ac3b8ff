"""The layout rules of docs/architecture.md, checked on the code's own imports.

Floors, arrows pointing down only:

1. ``schemas`` imports nothing of ragbus;
2. ``deploy`` imports ``schemas``;
3. ``ragbus`` (the kernel) imports ``schemas`` and ``deploy``, never a service or
   the tooling;
4. each service imports the floors below and itself, never another service;
5. ``ragbus_tools`` may import everything.

Also: no import cycle between modules, no module over 300 lines, and no message or
HTTP handler over 15 lines of code. Every import counts, including those inside
functions (a lazy import is still an arrow).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "ingest_svc", "embed_svc", "retrieve_svc", "generate_svc")
PACKAGES = ("schemas", "deploy", "ragbus", *SERVICES, "ragbus_tools")
ALLOWED: dict[str, set[str]] = {
    "schemas": {"schemas"},
    "deploy": {"schemas", "deploy"},
    "ragbus": {"schemas", "deploy", "ragbus"},
    **{svc: {"schemas", "deploy", "ragbus", svc} for svc in SERVICES},
    "ragbus_tools": set(PACKAGES),
}
MAX_MODULE_LINES = 300
MAX_HANDLER_LINES = 15
HANDLER_DECORATORS = frozenset(
    {"get", "post", "put", "patch", "delete", "subscriber", "jetstream_handler"}
)


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the packages above: ``(dotted name, path)``."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def imported(tree: ast.AST, name: str, is_package: bool) -> set[str]:
    """Dotted names of the ragbus modules ``tree`` imports (top level or not)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (names resolved to existing modules)."""
    known = dict(modules())
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = set()
        for target in imported(tree, name, path.name == "__init__.py"):
            while target and target not in known:  # `from pkg import name` -> pkg
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def test_arrows_point_down_only() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if target.split(".")[0] not in ALLOWED[module.split(".")[0]]
    ]
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_no_module_over_300_lines() -> None:
    long = {
        name: n
        for name, path in modules()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _code_lines(fn: ast.AsyncFunctionDef | ast.FunctionDef) -> int:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body:
        return 0
    last = max(getattr(node, "end_lineno", node.lineno) or node.lineno for node in body)
    return last - body[0].lineno + 1


def test_handlers_are_thin() -> None:
    thick = {}
    for name, path in modules():
        if name.split(".")[0] not in SERVICES and not name.startswith("ragbus."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
                continue
            decorators = {_decorator_name(d) for d in node.decorator_list}
            if decorators & HANDLER_DECORATORS and _code_lines(node) > MAX_HANDLER_LINES:
                thick[f"{name}.{node.name}"] = _code_lines(node)
    assert thick == {}

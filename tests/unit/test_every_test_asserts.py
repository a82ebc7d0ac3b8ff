"""Every test checks something: a test that asserts nothing cannot fail.

A test passes this check when its body holds an ``assert``, ``pytest.raises``,
``pytest.fail``, ``pytest.warns``, a ``numpy.testing.assert_*`` call or a
Playwright assertion (``expect(locator).to_*``, which waits and fails), or calls a
helper that does: a function of its own module, or one imported from ``tests.*``,
followed transitively. A test whose only check is that nothing raises should say
so with an assertion on the state it leaves.
"""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
CHECKS = frozenset({"pytest.raises", "pytest.fail", "pytest.warns"})

Function = ast.FunctionDef | ast.AsyncFunctionDef


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


TREES = {module_name(p): ast.parse(p.read_text()) for p in sorted(TESTS.rglob("*.py"))}


def functions(tree: ast.AST) -> dict[str, Function]:
    return {n.name: n for n in ast.walk(tree) if isinstance(n, Function)}


def helpers(module: str) -> dict[str, tuple[str, Function]]:
    """Functions a test of ``module`` may call by name: its own and those from ``tests.*``."""
    tree = TREES[module]
    found = {name: (module, fn) for name, fn in functions(tree).items()}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in TREES:
            imported = functions(TREES[node.module])
            for alias in node.names:
                if alias.name in imported:
                    found[alias.asname or alias.name] = (node.module, imported[alias.name])
    return found


def is_playwright_expect(func: ast.expr) -> bool:
    """``expect(x).to_have_text(...)``: Playwright's assertions, named ``to_*``."""
    return (
        isinstance(func, ast.Attribute)
        and func.attr.startswith(("to_", "not_to_"))
        and isinstance(func.value, ast.Call)
        and ast.unparse(func.value.func) == "expect"
    )


def checks_directly(fn: Function) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if called in CHECKS or ".testing.assert_" in called:
                return True
            if is_playwright_expect(node.func):
                return True
    return False


def checks(module: str, fn: Function, seen: set[int]) -> bool:
    if id(fn) in seen:
        return False
    seen.add(id(fn))
    if checks_directly(fn):
        return True
    known = helpers(module)
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in known and checks(*known[node.func.id], seen):
                return True
    return False


def collected_tests(module: str) -> list[Function]:
    return [
        fn
        for fn in functions(TREES[module]).values()
        if fn.name.startswith("test_") and fn.col_offset == 0
    ]


def test_the_scan_sees_the_test_modules() -> None:
    modules = [m for m in TREES if m.rsplit(".", 1)[-1].startswith("test_")]
    assert len(modules) > 50 and "tests.unit.test_every_test_asserts" in modules
    assert all(collected_tests(m) for m in modules), [m for m in modules if not collected_tests(m)]


def test_a_test_without_a_check_is_found() -> None:
    tree = ast.parse(
        "def helper():\n    assert True\n"
        "def test_checks():\n    helper()\n"
        "def test_checks_nothing():\n    print('ran')\n"
        "async def test_expects():\n    await expect(page).to_have_title('x')\n"
        "async def test_only_waits():\n    await expect_later(page).to_have_title('x')\n"
    )
    TREES["tests.unit.scratch"] = tree
    try:
        verdicts = {
            fn.name: checks("tests.unit.scratch", fn, set())
            for fn in collected_tests("tests.unit.scratch")
        }
    finally:
        del TREES["tests.unit.scratch"]
    assert verdicts == {
        "test_checks": True,
        "test_checks_nothing": False,
        "test_expects": True,
        "test_only_waits": False,
    }


def test_every_test_checks_something() -> None:
    unchecked = [
        f"{module}::{fn.name}"
        for module in TREES
        if module.rsplit(".", 1)[-1].startswith("test_")
        for fn in collected_tests(module)
        if not checks(module, fn, set())
    ]
    assert unchecked == []

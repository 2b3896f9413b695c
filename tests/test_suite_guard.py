"""Guards on the test suite itself, read from the source of tests/ (docs/testing.md).

- Every test function checks something: an `assert`, `pytest.raises`/`pytest.warns`/
  `pytest.fail`, Playwright's `expect(...)`, a call to a function of tests/ that itself checks
  something (directly or through another), or to a function named `assert_*`/`expect_*`.
  A test with none passes whatever the code does.
- No fixed sleep: `time.sleep(x)` or `asyncio.sleep(x)` with x other than 0 (a plain yield to
  the event loop) is allowed only where the line (or the line above) says why, with a comment
  that starts `# allowed sleep:`; a test waits on the event itself (a write acknowledged, a child's
  readiness), and a poll loop says why it polls.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ALLOW_SLEEP = "# allowed sleep:"
CHECK_CALLS = {"raises", "warns", "fail", "expect", "deprecated_call"}


def suite_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def called_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def direct_check(node: ast.AST, checking: set[str]) -> bool:
    """Whether `node` holds an assert or a call that checks (see the module docstring)."""
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Call):
            name = called_name(child)
            if (name in CHECK_CALLS or name in checking or name.startswith("assert_")
                    or name.startswith("expect_")):
                return True
    return False


def checking_helpers(trees: list[ast.Module]) -> set[str]:
    """Names of non-test functions that check something, directly or through another one."""
    functions = [node for tree in trees for node in ast.walk(tree)
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                 and not node.name.startswith("test_")]
    checking: set[str] = set()
    while True:
        grown = {f.name for f in functions if direct_check(f, checking)}
        if grown <= checking:
            return checking
        checking |= grown


def collect_tests(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")]


def test_every_test_checks_something():
    trees = {path: ast.parse(path.read_text(), filename=str(path)) for path in suite_files()}
    checking = checking_helpers(list(trees.values()))
    vacuous = [f"{path.relative_to(TESTS)}:{fn.lineno} {fn.name}"
               for path, tree in trees.items() if path.name.startswith("test_")
               for fn in collect_tests(tree) if not direct_check(fn, checking)]
    assert vacuous == [], "these tests assert nothing"


def fixed_sleeps(path: Path, root: Path = TESTS) -> list[str]:
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
        if not (isinstance(node, ast.Call) and called_name(node) == "sleep"):
            continue
        func = node.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in {"time", "asyncio"}):
            continue
        if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == 0:
            continue
        statement = lines[node.lineno - 1:node.end_lineno]
        said = lines[max(node.lineno - 2, 0):node.end_lineno]  # the comment may stand above
        if not any(ALLOW_SLEEP in line for line in said):
            found.append(f"{path.relative_to(root)}:{node.lineno} {statement[0].strip()}")
    return found


def test_no_fixed_sleep_without_a_reason():
    sleeps = [hit for path in suite_files() for hit in fixed_sleeps(path)]
    assert sleeps == [], f"wait on the event, or say why with '{ALLOW_SLEEP} <reason>'"


GUARDED_EXAMPLE = '''
import asyncio, time

def helper_that_checks(x):
    assert x

def test_vacuous():
    time.sleep(0.5)

def test_checks_through_a_helper():
    helper_that_checks(1)

async def test_raises():
    await asyncio.sleep(0)
    with pytest.raises(ValueError):
        int("x")

def test_sleeps_with_a_reason():
    time.sleep(1)  # allowed sleep: the behaviour under test
    assert True
'''


def test_the_guard_flags_a_vacuous_test_and_an_unexplained_sleep(tmp_path):
    example = tmp_path / "test_example.py"
    example.write_text(GUARDED_EXAMPLE)
    tree = ast.parse(GUARDED_EXAMPLE)
    checking = checking_helpers([tree])
    assert [fn.name for fn in collect_tests(tree) if not direct_check(fn, checking)] == [
        "test_vacuous"]
    assert [hit.split(" ", 1)[1] for hit in fixed_sleeps(example, root=tmp_path)] == [
        "time.sleep(0.5)"]

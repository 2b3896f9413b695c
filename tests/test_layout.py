"""The layout rules of docs/development.md, checked by reading the source (no imports run).

- No import cycles among the modules of `arena`, `serving` and `ratings` (lazy imports and
  `TYPE_CHECKING` imports count: a cycle hidden in a function is still a cycle).
- `ratings` imports neither `arena` nor `serving`; `serving` does not import `arena`.
- The core of the arena (battle rules, live state, the SQL log, the record) never imports a
  feature or a front end.
- A private name (`_name`) never leaves its module: no `from m import _name` and no `m._name`
  on an imported module, in the packages, the tests or the benchmarks.
- Size: a module of at most 400 lines, a class of at most 250, a function of at most 60, except
  where `SIZE_EXCEPTIONS` says why.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("arena", "serving", "ratings")
IMPORTERS = (*PACKAGES, "tests", "benchmarks", "examples")

CORE = ("arena.battles", "arena.live", "arena.store", "arena.record", "arena.config",
        "arena.errors", "arena.ids")
FEATURES = ("arena.web", "arena.revote", "arena.drift", "arena.jobs", "arena.transfer",
            "arena.commands", "arena.cli", "arena.judge")

MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 60

# "path:qualified name" (or "path" for a module) -> why it may be longer than the limit.
SIZE_EXCEPTIONS: dict[str, str] = {}


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: list[tuple[str, int]] = field(default_factory=list)  # (module name, line)
    private: list[tuple[str, int]] = field(default_factory=list)  # ("module._name", line)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def read_module(path: Path, known: set[str]) -> Module:
    tree = ast.parse(path.read_text(), filename=str(path))
    mod = Module(module_name(path), path, tree)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                mod.imports.append((alias.name, node.lineno))
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = resolve_relative(mod.name, node, path.name == "__init__.py")
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:
                    mod.imports.append((submodule, node.lineno))
                    aliases[alias.asname or alias.name] = submodule
                else:
                    mod.imports.append((source, node.lineno))
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        mod.private.append((f"{source}.{alias.name}", node.lineno))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            mod.private.append((f"{aliases[node.value.id]}.{node.attr}", node.lineno))
    return mod


def project_modules() -> dict[str, Module]:
    paths = [p for top in IMPORTERS for p in (REPO / top).rglob("*.py")
             if ".venv" not in p.parts]
    known = {module_name(p) for p in paths}
    modules = [read_module(p, known) for p in paths]
    return {m.name: m for m in modules}


def in_package(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


MODULES = project_modules()
PACKAGE_MODULES = {n: m for n, m in MODULES.items() if in_package(n, PACKAGES)}


def own_edges(module: Module) -> set[str]:
    return {name for name, _ in module.imports
            if name in PACKAGE_MODULES and name != module.name}


def find_cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = {name: own_edges(m) for name, m in PACKAGE_MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return components


def test_no_import_cycles():
    assert find_cycles() == []


def where(module: Module, line: int) -> str:
    return f"{module.path.relative_to(REPO)}:{line}"


@pytest.mark.parametrize("package, forbidden", [
    ("ratings", ("arena", "serving")),
    ("serving", ("arena",)),
])
def test_independent_packages_stay_independent(package, forbidden):
    offences = [f"{where(m, line)} imports {name}"
                for m in PACKAGE_MODULES.values() if in_package(m.name, (package,))
                for name, line in m.imports if in_package(name, forbidden)]
    assert offences == []


def test_the_core_never_imports_a_feature():
    offences = [f"{where(m, line)} imports {name}"
                for m in PACKAGE_MODULES.values() if in_package(m.name, CORE)
                for name, line in m.imports if in_package(name, FEATURES)]
    assert offences == []


def test_private_names_stay_in_their_module():
    offences = [f"{where(m, line)} uses {name}"
                for m in MODULES.values() for name, line in m.private
                if in_package(name.rsplit(".", 1)[0], IMPORTERS)
                and name.rsplit(".", 1)[0] != m.name]
    assert offences == []


def definitions(node: ast.AST, prefix: str = "") -> list[tuple[str, ast.AST]]:
    """Every class and function under `node`, with its dotted name (`Class.method`)."""
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{child.name}"
            found += [(name, child), *definitions(child, f"{name}.")]
    return found


def oversized() -> list[str]:
    found = []
    for module in PACKAGE_MODULES.values():
        path = str(module.path.relative_to(REPO))
        lines = module.path.read_text().count("\n")
        if lines > MAX_MODULE_LINES:
            found.append((path, lines, MAX_MODULE_LINES))
        for name, node in definitions(module.tree):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append((f"{path}:{name}", length, limit))
    return [f"{what} has {length} lines (limit {limit})"
            for what, length, limit in found if what not in SIZE_EXCEPTIONS]


def test_modules_classes_and_functions_stay_within_their_size():
    assert oversized() == []


def test_every_size_exception_is_still_needed_and_says_why():
    paths = {str(m.path.relative_to(REPO)) for m in PACKAGE_MODULES.values()}
    for what, why in SIZE_EXCEPTIONS.items():
        assert what.split(":")[0] in paths, f"{what}: no such module"
        assert len(why.split()) >= 5, f"{what}: say why it must be longer"

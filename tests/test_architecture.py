"""The packages' structure: no import cycle inside a package, no read of another's private names.

Both checks read the source with `ast`; none of the packages is imported. Imports under
`if TYPE_CHECKING:` do not run, so they are not edges of the import graph; imports inside
functions do run, so they are.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "events_core": ROOT / "packages/events-core/src/events_core",
    "events_celery": ROOT / "packages/events-celery/src/events_celery",
    "events_contrib": ROOT / "packages/events-contrib/src/events_contrib",
}
RECEIVERS = frozenset({"self", "cls"})
"""Names through which a class reads its own private attributes."""


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module


def modules(package: str) -> list[Module]:
    found = []
    for path in sorted(PACKAGES[package].rglob("*.py")):
        parts = path.relative_to(PACKAGES[package].parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append(Module(name, path, ast.parse(path.read_text(), str(path))))
    return found


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under `node`, leaving out `if TYPE_CHECKING:` blocks."""
    for child in ast.iter_child_nodes(node):
        if is_type_checking_block(child):
            continue
        yield child
        yield from runtime_nodes(child)


def imported_modules(module: Module, known: set[str]) -> set[str]:
    """The modules of the same package that `module` imports when it runs."""
    found: set[str] = set()
    package = module.name.split(".")[0]
    for node in runtime_nodes(module.tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in known and name.split(".")[0] == package)
    found.discard(module.name)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in done:
            return None
        visiting.append(name)
        for target in sorted(graph[name]):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name)
        if cycle:
            return cycle
    return None


def import_graph(package: str) -> dict[str, set[str]]:
    found = modules(package)
    # A package's __init__ only re-exports; importing a submodule does not make it an edge.
    known = {module.name for module in found if module.name != package}
    return {
        module.name: imported_modules(module, known) for module in found if module.name != package
    }


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_package_has_an_import_cycle(package: str) -> None:
    assert find_cycle(import_graph(package)) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}

    assert find_cycle(graph) == ["a", "b", "c", "a"]


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_reads(module: Module) -> list[str]:
    """Where `module` reads a private name that belongs to another module or object."""
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom):
            found.extend(
                f"{module.name}:{node.lineno} imports {node.module}.{alias.name}"
                for alias in node.names
                if is_private(alias.name) and not exported(node.module or "", alias.name)
            )
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            receiver = node.value
            if isinstance(receiver, ast.Name) and receiver.id in RECEIVERS:
                continue
            if node.attr in own_private_names(module):
                continue
            found.append(f"{module.name}:{node.lineno} reads {ast.unparse(node)}")
    return found


def exported(module: str, name: str) -> bool:
    """Whether a library outside these packages lists `name` in its `__all__` (asyncio lists
    `_get_running_loop`, for event loop implementations)."""
    if module.split(".")[0] in PACKAGES:
        return False
    try:
        return name in getattr(importlib.import_module(module), "__all__", ())
    except ImportError:
        return False


def own_private_names(module: Module) -> set[str]:
    """Private names the module's own classes define: methods, class attributes, slots and
    attributes set on `self`, so that an instance of them may read another one's."""
    names: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    names.update(t.id for t in item.targets if isinstance(t, ast.Name))
                    if any(isinstance(t, ast.Name) and t.id == "__slots__" for t in item.targets):
                        names.update(
                            c.value
                            for c in ast.walk(item.value)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str)
                        )
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(
                t.attr
                for t in targets
                if isinstance(t, ast.Attribute)
                and isinstance(t.value, ast.Name)
                and t.value.id in RECEIVERS
            )
    return {name for name in names if is_private(name)}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_reads_a_private_name_of_another(package: str) -> None:
    reads = [read for module in modules(package) for read in private_reads(module)]

    assert reads == []


def test_the_private_read_check_finds_one() -> None:
    source = (
        "from x import _hidden\n"
        "value = other._state[4]\n"
        "class Mine:\n"
        "    def __init__(self):\n"
        "        self._own = 1\n"
        "    def __eq__(self, other):\n"
        "        return self._own == other._own\n"
    )
    module = Module("m", Path("m.py"), ast.parse(source))

    assert private_reads(module) == [
        "m:1 imports x._hidden",
        "m:2 reads other._state",
    ]

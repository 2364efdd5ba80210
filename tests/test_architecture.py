"""The core keeps its rooms: short functions, no import cycle, ``mirplug predict`` without the training code,
and the window length and the confidence interval each computed in one place.

Read from the source with :mod:`ast` (nothing is imported), so these run in well under a second.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mirplug

CORE = Path(mirplug.__file__).parent
MAX_LINES = 60
# modules `mirplug predict` must never import, however indirectly (lazily inside a function included)
TRAINING = {"mirplug.training", "mirplug.runner", "mirplug.checkpoint", "mirplug.generation", "mirplug.sweep"}
# functions still to split (being reworked on another branch for issue 14); remove each when it is split
PENDING: set[str] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(CORE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()}


def own_lines(function: ast.AST) -> int:
    """Lines of ``function`` not inside a function or class defined in it (those are counted on their own)."""
    lines = set(range(function.lineno, function.end_lineno + 1))  # type: ignore[attr-defined]
    for node in ast.walk(function):
        if node is not function and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines -= set(range(first, node.end_lineno + 1))  # type: ignore[operator]
    return len(lines)


def long_functions() -> list[str]:
    found = []
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and own_lines(node) > MAX_LINES
                    and f"{name}.{node.name}" not in PENDING):
                found.append(f"{name}.{node.name} ({own_lines(node)} lines)")
    return sorted(found)


def _type_checking_only(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" or (
        isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")


def imports_of(name: str) -> set[str]:
    """The mirplug modules ``name`` imports when it runs: at the top and inside functions, but not under
    ``if TYPE_CHECKING:``. Importing ``mirplug.a.b`` imports the package ``mirplug.a`` too; that implicit
    edge is left out (a package's ``__init__`` may gather its modules), an explicit one is kept."""
    found: set[str] = set()
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    found.add(f"{base}.{alias.name}")
                elif base in MODULES:
                    found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(TREES[name])
    found.discard(name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for imported in GRAPH[todo.pop()] - seen:
            seen.add(imported)
            todo.append(imported)
    return seen


def test_no_function_in_the_core_is_longer_than_sixty_lines() -> None:
    assert long_functions() == [], "split these functions into smaller ones"


def test_the_core_has_no_import_cycle() -> None:
    cycles = sorted(f"{name} -> {imported} -> ... -> {name}" for name in GRAPH for imported in GRAPH[name]
                    if name in reachable(imported) and name != "mirplug")
    assert cycles == []


def test_predict_does_not_import_the_training_code() -> None:
    for start in ("mirplug.predict", "mirplug.cli.predict"):
        assert reachable(start) & TRAINING == set(), f"{start} imports training code"
    assert {"mirplug.inference", "mirplug.build"} <= reachable("mirplug.predict")


def test_the_cache_only_keeps_entries() -> None:
    """The cache stores and finds entries; it neither decodes nor computes (those modules use it)."""
    rooms = {"mirplug.windows", "mirplug.data", "mirplug.inference", "mirplug.model", "mirplug.build", *TRAINING}
    assert reachable("mirplug.cache") & rooms == set()


def _calls(tree: ast.AST, attribute: str) -> list[int]:
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == attribute]


def test_the_confidence_interval_is_computed_in_stats_only() -> None:
    where = {name: lines for name, tree in TREES.items() if (lines := _calls(tree, "ppf"))}
    assert list(where) == ["mirplug.stats"]


def _window_products(tree: ast.AST) -> list[int]:
    """Lines multiplying a ``clip_seconds`` by a ``sample_rate`` (a window length computed by hand)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            text = ast.unparse(node)
            if "clip_seconds" in text and "sample_rate" in text:
                found.append(node.lineno)
    return found


def test_the_window_length_is_computed_in_windows_only() -> None:
    where = {name: lines for name, tree in TREES.items() if (lines := _window_products(tree))}
    assert list(where) == ["mirplug.windows"]
    assert len(where["mirplug.windows"]) == 1


@pytest.mark.parametrize("broken", ["long", "cycle", "predict"])
def test_the_checks_catch_what_they_look_for(broken: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check fails on code that breaks its rule (so none of them passes whatever the code)."""
    if broken == "long":
        body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES + 1))
        monkeypatch.setitem(TREES, "mirplug.stats", ast.parse(f"def f():\n{body}\n"))
        assert long_functions() == [f"mirplug.stats.f ({MAX_LINES + 2} lines)"]
    elif broken == "cycle":
        monkeypatch.setitem(GRAPH, "mirplug.paths", {"mirplug.cache"})
        with pytest.raises(AssertionError):
            test_the_core_has_no_import_cycle()
    else:
        monkeypatch.setitem(GRAPH, "mirplug.rundir", GRAPH["mirplug.rundir"] | {"mirplug.training"})
        with pytest.raises(AssertionError):
            test_predict_does_not_import_the_training_code()

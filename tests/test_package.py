"""The package as a whole: import cost, the quick-mode switch, docstring examples
run by the unit stage, and no import cycle."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import llmbook

ROOT = Path(__file__).resolve().parents[1]


def test_importing_llmbook_does_not_import_tensorflow() -> None:
    code = "import sys, llmbook, llmbook.data; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("value", "expected"), [("1", 5), ("yes", 5), ("0", 100), ("", 100)])
def test_scaled_follows_llmbook_quick(monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv("LLMBOOK_QUICK", value)
    assert llmbook.scaled(100, 5) == expected


def test_scaled_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMBOOK_QUICK", raising=False)
    assert not llmbook.is_quick()
    assert llmbook.scaled(100, 5) == 100


@pytest.mark.parametrize(("full", "quick"), [(0, 1), (1, 0), (-3, 2)])
def test_scaled_rejects_non_positive_counts(full: int, quick: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        llmbook.scaled(full, quick)


# --------------------------------------------------------------------------
# Every docstring example runs in the unit stage.


def test_unit_stage_runs_the_docstring_examples() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    options = config["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in options["addopts"].split()
    assert "src/llmbook" in options["testpaths"]
    unit = re.search(r"^unit:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert unit is not None and "src/llmbook" in unit.group(1).split(), "`make unit` must run src/llmbook"


# --------------------------------------------------------------------------
# No import cycle inside the package.

PACKAGE = ROOT / "src" / "llmbook"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(source: str, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that a module's code imports.

    Every import statement counts, at module level and inside functions (a
    lazy import is still a dependency), except those under
    ``if TYPE_CHECKING:``, which never run. ``from pkg import x`` depends on
    the submodule ``pkg.x`` when there is one, otherwise on ``pkg`` itself.
    """
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of llmbook it imports``, read from the source with ``ast``."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p.read_text(encoding="utf-8"), module_name(p),
                                             p.name == "__init__.py", modules)
            for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``None`` (depth-first search)."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_import_graph_reader_sees_every_kind_of_import() -> None:
    modules = {"llmbook", "llmbook.a", "llmbook.b", "llmbook.c", "llmbook.models", "llmbook.models.d"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "import llmbook.a\n"
        "from . import b\n"
        "from llmbook.models import d, something\n"
        "if TYPE_CHECKING:\n    from llmbook import c\n"
        "def f():\n    from ..c import thing\n"
    )
    # `from . import b` names no submodule here, so it depends on the package;
    # `something` is not a submodule either; the TYPE_CHECKING import never runs.
    assert imported_modules(source, "llmbook.models.x", False, modules) == {
        "llmbook.a", "llmbook.models", "llmbook.models.d", "llmbook.c"}
    assert imported_modules("from . import a", "llmbook", True, modules) == {"llmbook.a"}


def test_find_cycle_can_fail() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "llmbook.sampling" in graph and "llmbook.models.gpt" in graph  # the reader found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle inside llmbook: " + " -> ".join(cycle or [])

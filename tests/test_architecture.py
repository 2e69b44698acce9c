"""The architecture's rules, checked on the source (docs/architecture.md): stages never import each other, the
shared layers import no stage, no module-level import circle, no module over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "lingalign"
STAGES = {"data", "train", "evaluate", "scaling", "analysis", "report", "serve"}
ORCHESTRATION = {"run", "cli"}  # may import stages: they drive them
# The one arrow from a stage up to orchestration: `lingalign scaling sweep` trains and scores a model per
# data size, which is what `run` does; the verb stays under `scaling`, its work is run's.
UPWARD = {("lingalign.scaling.command", "lingalign.run.sweep")}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree: ast.AST, top_level_only: bool) -> set[str]:
    """The lingalign modules a module imports: all of them, or only those imported when it is imported."""
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("lingalign"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("lingalign"))
    return found


SOURCES = {module_name(path): path for path in PACKAGE.rglob("*.py")}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in SOURCES.items()}


def part(module: str) -> str:
    """``lingalign.data.build`` -> ``data``; ``lingalign.cli`` -> ``cli``."""
    return module.split(".")[1] if "." in module else module


def test_the_package_is_found():
    assert {"lingalign.cli", "lingalign.data.build", "lingalign.train.stage", "lingalign.run.plan"} <= set(SOURCES)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_imports_no_other_stage_and_nothing_above_it(stage):
    wrong = sorted(f"{name} imports {target}" for name, tree in TREES.items() if part(name) == stage
                   for target in imports(tree, top_level_only=False)
                   if target in SOURCES and part(target) != stage and part(target) in STAGES | ORCHESTRATION
                   and (name, target) not in UPWARD)
    assert wrong == []


def test_the_shared_layers_import_no_stage():
    wrong = sorted(f"{name} imports {target}" for name, tree in TREES.items()
                   if part(name) not in STAGES | ORCHESTRATION and name != "lingalign"
                   for target in imports(tree, top_level_only=False)
                   if target in SOURCES and part(target) in STAGES | ORCHESTRATION)
    assert wrong == []


def test_no_import_circle_between_modules():
    graph = {name: {t for t in imports(tree, top_level_only=True) if t in SOURCES and t != name}
             for name, tree in TREES.items()}
    # a package's __init__ importing its own submodules is not a circle Python trips over; the rest is
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    circles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_no_module_is_over_400_lines():
    long = {name: n for name, path in SOURCES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}

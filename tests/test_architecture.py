"""The house reads one way: no module-level import cycles, and no check imports another check's module."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rnndoctor"


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {
            node.module
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rnndoctor")
        }
    return graph


def test_no_module_level_import_cycle() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        for imported in graph.get(module, ()):
            assert imported not in path, f"import cycle: {' -> '.join([*path[path.index(imported) :], imported])}"
            if imported not in done:
                visit(imported, [*path, imported])
        done.add(module)

    for module in graph:
        visit(module, [module])


def test_checks_do_not_import_each_other() -> None:
    for module, imported in _imports().items():
        if not module.startswith("rnndoctor.checks.") or module.split(".")[-1].startswith("judge_"):
            continue
        others = {
            name
            for name in imported
            if name.startswith("rnndoctor.checks.") and not name.split(".")[-1].startswith("judge_")
        }
        assert not others, f"{module} imports {sorted(others)}: share a fact or a measurement module instead"

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


def test_every_finding_is_rendered_by_its_rule() -> None:
    """Judges hand evidence to their rule; only the rule writes prose (`Rule.verdict`)."""
    allowed = {PACKAGE / "core" / "registry.py", PACKAGE / "core" / "catalogue.py"}
    for path in PACKAGE.rglob("*.py"):
        if path in allowed:
            continue
        calls = [
            node.lineno
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "make_finding"
        ]
        assert not calls, f"{path.name}:{calls[0]} builds a finding's prose itself: declare a template on the rule"


def test_every_rule_has_a_template_and_a_check_that_exists() -> None:
    from rnndoctor.core.catalogue import all_rules
    from rnndoctor.core.registry import registered_checks

    names = {check.name for check in registered_checks()}
    for rule in all_rules():
        assert rule.message and rule.remedy, f"{rule.code} has no message/remedy template"
        assert set(rule.checks) <= names, f"{rule.code} names unknown checks {set(rule.checks) - names}"
        assert rule.checks or rule.code.startswith("RD0"), f"{rule.code} names no check that measures it"
        for name, wording in rule.variants.items():
            assert wording.message or wording.remedy, f"{rule.code} variant {name} changes nothing"

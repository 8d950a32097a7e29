"""The house reads one way: every import of the package, function-level ones included, forms a graph without
circles, in the layers the sub-packages name; checks measure (they import neither other checks nor rules),
rules judge (they import no check), and only a rule writes a finding's prose."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnndoctor"
MAX_LINES = 600
SUBPACKAGES = {"setup", "runtime", "core", "measurements", "checks", "rules", "render", "logs", "script"}
TOP_LEVEL = {"__init__", "__main__", "cli", "api", "lightning", "docgen", "optgen"}
"""The entry points: the public API, the command line, the Lightning callback and the two generators."""


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of the imports under ``if TYPE_CHECKING:`` (annotations only, never executed)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        lines.add(sub.lineno)
    return lines


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """Every rnndoctor module ``module`` imports anywhere in its file (``from a import b`` counts ``a.b`` when
    that is a module), except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "rnndoctor"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            if base.split(".")[0] != "rnndoctor":
                continue
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.add(name if name in known else base)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {module: imports_of(module, path, known) for module, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                return [*stack[stack.index(imported) :], imported]
            if imported in graph and imported not in state:
                found = visit(imported)
                if found:
                    return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_import_graph_has_no_cycle() -> None:
    cycle = _cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_reader_sees_function_level_imports() -> None:
    """A cycle hidden inside a function is still a cycle: the graph must see it."""
    graph = {"a": {"b"}, "b": {"a"}}
    assert _cycle(graph) == ["a", "b", "a"]
    source = PACKAGE / "api.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    nested = [
        n
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef)
        for n in ast.walk(f)
        if isinstance(n, ast.ImportFrom)
    ]
    assert nested, "api.py imports inside a function (the case this reader exists for)"
    assert {n.module for n in nested if n.module} <= imports_of("rnndoctor.api", source, set(_modules()))


def test_the_layout_shows_the_design() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == TOP_LEVEL, f"top-level modules beyond the entry points: {sorted(top - TOP_LEVEL)}"
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == SUBPACKAGES


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"


def test_checks_only_measure() -> None:
    """A check imports neither another check nor a rule: it publishes, the engine hands it to the judges."""
    for module, imported in import_graph().items():
        if not _in(module, "rnndoctor.checks") or module == "rnndoctor.checks":
            continue
        others = {m for m in imported if _in(m, "rnndoctor.checks") and m != "rnndoctor.checks"}
        assert not others, f"{module} imports {sorted(others)}: share a fact or a runtime module instead"
        rules = {m for m in imported if _in(m, "rnndoctor.rules")}
        assert not rules, f"{module} imports {sorted(rules)}: publish a measurement instead of judging"


def test_rules_and_remedies_never_import_checks() -> None:
    for module, imported in import_graph().items():
        if _in(module, "rnndoctor.rules") or module in ("rnndoctor.core.remedies", "rnndoctor.runtime.patches"):
            checks = {m for m in imported if _in(m, "rnndoctor.checks")}
            assert not checks, f"{module} imports {sorted(checks)}"


def test_the_lower_layers_do_not_reach_up() -> None:
    """runtime (what is measured) and measurements know nothing of checks, rules, the engine or rendering;
    the facts return measurements, never findings."""
    upward = ("rnndoctor.checks", "rnndoctor.rules", "rnndoctor.render", "rnndoctor.core.engine")
    for module, imported in import_graph().items():
        if _in(module, "rnndoctor.runtime") or _in(module, "rnndoctor.measurements"):
            up = {m for m in imported if any(_in(m, u) for u in upward)}
            assert not up, f"{module} imports {sorted(up)}"
            if _in(module, "rnndoctor.measurements"):
                assert not {m for m in imported if _in(m, "rnndoctor.core")}, f"{module} imports the core"


def test_every_finding_is_made_by_its_rule() -> None:
    """Judges hand evidence to their rule; only `Rule.finding` builds a Finding."""
    allowed = {PACKAGE / "core" / "catalogue.py"}
    for path in PACKAGE.rglob("*.py"):
        if path in allowed:
            continue
        calls = [
            node.lineno
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Finding"
        ]
        assert not calls, f"{path.name}:{calls[0]} builds a finding itself: give the rule a template"


def test_one_module_per_rule() -> None:
    """rules/<family>/rdNNN_name.py holds exactly one RULE, of that code, in the family of its prefix."""
    from rnndoctor.core.catalogue import all_rules

    rules = {rule.code: rule for rule in all_rules()}
    modules = sorted((PACKAGE / "rules").glob("*/rd[0-9][0-9][0-9]_*.py"))
    assert len(modules) == len(rules)
    prefixes: dict[str, set[str]] = {}
    for path in modules:
        code = path.stem[:5].upper()
        assert code in rules, f"{path} declares no rule {code}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned = [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)]
        assert assigned.count("RULE") == 1, path
        prefixes.setdefault(path.parent.name, set()).add(code[:3])
    assert all(len(found) == 1 for found in prefixes.values()), prefixes


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


def test_every_rule_is_judged_and_every_judge_serves_a_publisher() -> None:
    """Each rule of a check has a judge, so a published measurement reaches it (RD0xx come from crashes)."""
    from rnndoctor.core.catalogue import all_rules
    from rnndoctor.core.judging import judged_types

    judged = {code for codes in judged_types().values() for code in codes}
    assert {rule.code for rule in all_rules() if not rule.code.startswith("RD0")} == judged

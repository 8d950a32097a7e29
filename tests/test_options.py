"""Options have one source: the declarations of the checks and the rules. The files that list them are generated and
fresh."""

from __future__ import annotations

import ast
import json
from dataclasses import fields
from pathlib import Path

from rnndoctor import optgen
from rnndoctor.core.catalogue import all_rules
from rnndoctor.core.registry import registered_checks
from rnndoctor.logs.curves import CURVE_CODES
from rnndoctor.logs.trends import CurveThresholds
from rnndoctor.setup.config import load_defaults

CHECKS = Path(__file__).resolve().parents[1] / "rnndoctor" / "checks"
RULES = Path(__file__).resolve().parents[1] / "rnndoctor" / "rules"


def test_generated_files_are_fresh() -> None:
    assert optgen.stale() == [], "run: python -m rnndoctor.optgen"


def test_the_packaged_defaults_are_the_declarations() -> None:
    defaults = load_defaults()["checks"]
    for check in registered_checks():
        if check.__module__.startswith("rnndoctor.checks."):
            assert defaults[check.name] == {o.name: o.default for o in check.options}, check.name


def _options_read(path: Path) -> set[str]:
    """The names of the options a module reads (``options["name"]``, ``ctx.options["name"]``)."""
    read = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, (ast.Name, ast.Attribute))
            and (getattr(node.value, "id", None) or getattr(node.value, "attr", None)) == "options"
            and isinstance(node.slice, ast.Constant)
        ):
            read.add(node.slice.value)
    return read


def test_every_option_a_check_reads_is_declared() -> None:
    declared = {name for check in registered_checks() for name in (o.name for o in check.options)}
    for path in CHECKS.glob("*.py"):
        undeclared = _options_read(path) - declared
        assert not undeclared, f"{path.name} reads undeclared options {sorted(undeclared)}"


def test_every_option_a_rule_reads_is_one_of_its_checks() -> None:
    """A judge gets the options of the check that published the measurement: what it reads is declared by one
    of its checks (itself, or a rule that brings it there)."""
    checks = {check.name: {o.name for o in check.options} for check in registered_checks()}
    rules = {rule.code: rule for rule in all_rules()}
    for path in sorted(RULES.glob("*/rd*.py")):
        rule = rules[path.stem[:5].upper()]
        available = set().union(*(checks[name] for name in rule.checks))
        if rule.code in CURVE_CODES:
            available |= {f.name for f in fields(CurveThresholds)}
        undeclared = _options_read(path) - available
        assert not undeclared, f"{path.name} reads {sorted(undeclared)}, which {rule.checks} do not declare"


def test_schema_describes_every_check_option() -> None:
    schema = json.loads(optgen.SCHEMA.read_text(encoding="utf-8"))
    checks = schema["properties"]["checks"]["properties"]
    for check in registered_checks():
        if check.__module__.startswith("rnndoctor.checks."):
            properties = checks[check.name]["oneOf"][1]["properties"]
            assert set(properties) == {o.name for o in check.options}
    # train_data and loss may come from a LightningModule; a script brings everything itself
    assert schema["anyOf"] == [{"required": ["model"]}, {"required": ["script"]}]

"""Options have one source: each check's declaration. The files that list them are generated and fresh."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from rnndoctor import optgen
from rnndoctor.core.registry import registered_checks
from rnndoctor.setup.config import load_defaults

CHECKS = Path(__file__).resolve().parents[1] / "rnndoctor" / "checks"


def test_generated_files_are_fresh() -> None:
    assert optgen.stale() == [], "run: python -m rnndoctor.optgen"


def test_the_packaged_defaults_are_the_declarations() -> None:
    defaults = load_defaults()["checks"]
    for check in registered_checks():
        if check.__module__.startswith("rnndoctor.checks."):
            assert defaults[check.name] == {o.name: o.default for o in check.options}, check.name


def test_every_option_a_check_reads_is_declared() -> None:
    declared = {name for check in registered_checks() for name in (o.name for o in check.options)}
    for path in CHECKS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, (ast.Name, ast.Attribute))
                and (getattr(node.value, "id", None) or getattr(node.value, "attr", None)) == "options"
                and isinstance(node.slice, ast.Constant)
            ):
                assert node.slice.value in declared, f"{path.name} reads undeclared option {node.slice.value!r}"


def test_schema_describes_every_check_option() -> None:
    schema = json.loads(optgen.SCHEMA.read_text(encoding="utf-8"))
    checks = schema["properties"]["checks"]["properties"]
    for check in registered_checks():
        if check.__module__.startswith("rnndoctor.checks."):
            properties = checks[check.name]["oneOf"][1]["properties"]
            assert set(properties) == {o.name for o in check.options}
    assert set(schema["required"]) == {"model"}  # train_data and loss may come from a LightningModule

"""The config route and the script route agree: every bundled example that has both a config.yaml and a
train.py (the same model, data, loss and optimizer, trained by a plain loop) gets the same diagnosis."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnndoctor import diagnose
from rnndoctor.core.findings import Report, Severity

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BOTH = sorted(p.parent.name for p in EXAMPLES.glob("*/train.py") if (p.parent / "config.yaml").is_file())

pytestmark = pytest.mark.slow


def verdict(report: Report) -> tuple[str | None, set[str]]:
    """The first finding and every code at warning or above."""
    first = report.findings[0].code if report.findings else None
    return first, {f.code for f in report.findings if f.severity >= Severity.WARNING}


def test_examples_with_both_routes_exist() -> None:
    assert len(BOTH) >= 8


@pytest.mark.parametrize("example", BOTH)
def test_both_routes_give_the_same_diagnosis(example: str) -> None:
    folder = EXAMPLES / example
    by_config = diagnose(str(folder / "config.yaml"))
    by_script = diagnose(str(folder / "train.py"))
    assert verdict(by_script) == verdict(by_config)

"""Every bundled example's report keeps its shape: the same findings (code, severity, check), the same check
statuses and the same task, whatever the code underneath is refactored into. Timing and measured numbers
are left out (they differ between machines); the verdict is not.

Regenerate after a deliberate change of behaviour with: python tests/test_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "examples.json"
EXAMPLES = sorted(ROOT.glob("examples/*/config.yaml"))


def summary(config: Path) -> dict[str, Any]:
    from rnndoctor import diagnose

    report = diagnose(str(config)).to_dict()
    return {
        "findings": [[f["code"], f["severity"], f["check"], _verified(f.get("verified"))] for f in report["findings"]],
        "checks": [[c["name"], c["status"]] for c in report["checks"]],
        "task": report.get("task", {}).get("kind"),
    }


def _verified(verified: dict[str, Any] | None) -> str | None:
    """The fix verification's outcome: improved, no change, not applicable, or None (not tried)."""
    if verified is None:
        return None
    if not verified.get("applied"):
        return "not applicable"
    return "improved" if verified.get("improved") else "no change"


@pytest.mark.slow
@pytest.mark.parametrize("config", EXAMPLES, ids=[c.parent.name for c in EXAMPLES])
def test_example_report_is_unchanged(config: Path) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert summary(config) == golden[config.parent.name]


def test_every_example_has_a_golden_report() -> None:
    assert set(json.loads(GOLDEN.read_text(encoding="utf-8"))) == {c.parent.name for c in EXAMPLES}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    GOLDEN.write_text(
        json.dumps({c.parent.name: summary(c) for c in EXAMPLES}, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"wrote {GOLDEN.relative_to(ROOT)}")

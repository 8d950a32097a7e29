"""`--format json`: the report document of contract §4."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnndoctor.core.findings import Report


def render(report: Report) -> str:
    return report.to_json(indent=2) + "\n"

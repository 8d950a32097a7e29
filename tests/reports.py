"""One diagnosis per fixture per test session: several test modules inspect the same reports."""

from __future__ import annotations

from functools import cache

from rnndoctor import diagnose
from rnndoctor.core.findings import Report
from tests import tasks

GROUPS = {
    "data": tasks.BROKEN,
    "model_and_loss": tasks.BROKEN_MODEL_AND_LOSS,
    "probes": tasks.BROKEN_PROBES,
    "dynamics": tasks.BROKEN_DYNAMICS,
    "healthy": tasks.HEALTHY,
}


@cache
def report_for(group: str, name: str) -> Report:
    return diagnose(**GROUPS[group][name]())


def all_fixtures() -> list[tuple[str, str]]:
    return [(group, name) for group, members in GROUPS.items() for name in sorted(members)]

"""One diagnosis per fixture per test session: several test modules inspect the same reports."""

from __future__ import annotations

from functools import cache

from rnndoctor import diagnose
from rnndoctor.core.findings import Report
from tests import setups

GROUPS = {
    "data": setups.BROKEN,
    "model_and_loss": setups.BROKEN_MODEL_AND_LOSS,
    "probes": setups.BROKEN_PROBES,
    "dynamics": setups.BROKEN_DYNAMICS,
    "healthy": setups.HEALTHY,
}


@cache
def report_for(group: str, name: str) -> Report:
    return diagnose(**GROUPS[group][name]())


def all_fixtures() -> list[tuple[str, str]]:
    return [(group, name) for group, members in GROUPS.items() for name in sorted(members)]

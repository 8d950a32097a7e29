"""Each broken setup yields exactly the errors it is known to cause: its own code and the symptoms that follow
from it, nothing missing and nothing more (the first code alone would let a new false error through)."""

from __future__ import annotations

import pytest

from tests import setups
from tests.reports import report_for

BROKEN = [(group, name) for group, members in setups.ERRORS.items() for name in members]


def test_every_broken_setup_has_its_errors_listed() -> None:
    from tests.reports import GROUPS

    assert {(g, n) for g, members in GROUPS.items() if g != "healthy" for n in members} == set(BROKEN)


@pytest.mark.slow
@pytest.mark.parametrize(("group", "name"), BROKEN, ids=[f"{g}-{n}" for g, n in BROKEN])
def test_a_broken_setup_yields_exactly_its_errors(group: str, name: str) -> None:
    report = report_for(group, name)
    errors = {f.code for f in report.findings if f.severity.label == "error"}
    assert errors == setups.ERRORS[group][name], [(f.code, f.severity.label) for f in report.findings]

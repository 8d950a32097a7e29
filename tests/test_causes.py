"""The cause graph must be a DAG: a cycle would leave both findings unexplained roots or hide them both."""

from __future__ import annotations

import pytest

from rnndoctor.core.catalogue import all_rules, get_rule
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.ranking import rank


def _graph(as_error: bool) -> dict[str, tuple[str, ...]]:
    return {rule.code: tuple(c for c in rule.explained(as_error) if c != rule.code) for rule in all_rules()}


def _cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(code: str) -> list[str] | None:
        if code in visiting:
            return [*visiting[visiting.index(code) :], code]
        if code in done:
            return None
        visiting.append(code)
        for child in graph.get(code, ()):
            found = visit(child)
            if found:
                return found
        visiting.pop()
        done.add(code)
        return None

    for code in graph:
        found = visit(code)
        if found:
            return found
    return None


@pytest.mark.parametrize("as_error", [False, True], ids=["default", "raised-to-error"])
def test_cause_graph_has_no_cycle(as_error: bool) -> None:
    assert _cycle(_graph(as_error)) is None


def test_cycle_detector_finds_a_planted_cycle() -> None:
    assert _cycle({"A": ("B",), "B": ("C",), "C": ("A",)}) == ["A", "B", "C", "A"]
    assert _cycle({"A": ("B",), "B": ()}) is None


def test_exploding_gradient_and_high_rate_rank_root_first_above_info() -> None:
    def finding(code: str, severity: Severity) -> Finding:
        return Finding(code, severity, code, "m", "f", explains=get_rule(code).explained(severity is Severity.ERROR))

    ranked = rank([finding("RD405", Severity.INFO), finding("RD502", Severity.ERROR), finding("RD401", Severity.ERROR)])
    assert [f.code for f in ranked][:2] == ["RD401", "RD502"]
    assert ranked[1].explained_by == "RD401"


def test_findings_that_name_each_other_still_rank_above_an_info() -> None:
    first = Finding("RD401", Severity.ERROR, "t", "m", "f", explains=("RD502",))
    second = Finding("RD502", Severity.ERROR, "t", "m", "f", explains=("RD401",))
    info = Finding("RD405", Severity.INFO, "t", "m", "f")
    ranked = rank([info, second, first])
    assert ranked[-1] is info


def test_a_longer_cycle_of_claims_keeps_the_best_ranked_finding_as_root() -> None:
    first = Finding("RD401", Severity.ERROR, "t", "m", "f", confidence=0.9, explains=("RD502",))
    second = Finding("RD502", Severity.ERROR, "t", "m", "f", confidence=0.8, explains=("RD503",))
    third = Finding("RD503", Severity.ERROR, "t", "m", "f", confidence=0.7, explains=("RD401",))
    info = Finding("RD405", Severity.INFO, "t", "m", "f")
    ranked = rank([third, info, second, first])
    assert [f.code for f in ranked] == ["RD401", "RD502", "RD503", "RD405"]
    assert ranked[0].explained_by is None and ranked[1].explained_by == "RD401"


def _verified(code: str, outcome: str, severity: Severity = Severity.ERROR) -> Finding:
    finding = Finding(code, severity, code, "m", "f", explains=get_rule(code).explained(severity is Severity.ERROR))
    finding.verified = {"applied": True, "improved": outcome == "improved", "effect": 0.5}
    return finding


def test_a_measured_finding_replaces_the_crash_derived_one() -> None:
    crash = Finding("RD201", Severity.ERROR, "t", "from the crash", "f", from_crash=True)
    measured = Finding("RD201", Severity.ERROR, "t", "measured", "f")
    assert [(f.message, f.from_crash) for f in rank([crash, measured])] == [("measured", False)]


def test_a_cause_whose_fix_failed_does_not_explain_a_symptom_whose_fix_worked() -> None:
    cause, symptom = _verified("RD101", "no_effect"), _verified("RD504", "improved", Severity.WARNING)
    assert "RD504" in cause.explains
    ranked = rank([cause, symptom])
    assert [f.code for f in ranked] == ["RD504", "RD101"]
    assert ranked[0].explained_by is None


def test_claims_that_form_a_cycle_keep_the_first_ranked_as_root() -> None:
    first = Finding("RD102", Severity.ERROR, "t", "m", "f", confidence=0.9, explains=("RD107",))
    second = Finding("RD107", Severity.ERROR, "t", "m", "f", confidence=0.5, explains=("RD102",))
    ranked = rank([second, first])
    assert [(f.code, f.explained_by) for f in ranked] == [("RD102", None), ("RD107", "RD102")]

"""Ranking: the findings ordered as a diagnosis, root causes first with the symptoms they explain under them.

A warning whose harm another finding shows on this model is raised to an error first (`escalate`); then
`rank` orders the causes by severity, by what trying their fixes showed, by confidence and by cost.
"""

from __future__ import annotations

from typing import Any

from rnndoctor.core.catalogue import get_rule
from rnndoctor.core.causes import ESCALATES
from rnndoctor.core.findings import Finding, Severity


def escalate(findings: list[Finding]) -> list[Finding]:
    """Raise a warning to an error when a finding that shows its harm is present (`causes.ESCALATES`) and
    its own fix, where tried, did not fail to help."""
    present = {f.code for f in findings}
    for finding in findings:
        shown = [code for code in ESCALATES.get(finding.code, ()) if code in present]
        # Not when its fix, tried on the model, changed nothing: then the harm shown has another cause.
        if shown and finding.severity < Severity.ERROR and finding.fix_outcome != "no_effect":
            finding.severity = Severity.ERROR
            finding.message += f" Raised to error: {', '.join(shown)} shows the harm on this model."
            finding.evidence["raised_by"] = shown
            finding.explains = tuple(dict.fromkeys(get_rule(finding.code).explained(True) + finding.explains))
    return findings


def rank(findings: list[Finding], costs: dict[str, int] | None = None) -> list[Finding]:
    """Order findings as a diagnosis: each root cause (a finding no other present finding explains),
    worst severity, most confident and cheapest first, followed by the symptoms it explains; a crash-
    derived finding gives way to a measured one of the same code."""
    costs = costs or {}
    measured = {f.code for f in findings if not f.from_crash}
    unique: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for finding in findings:
        identity = (finding.code, finding.message if not finding.from_crash else "")
        if (finding.from_crash and finding.code in measured) or identity in seen:
            continue
        seen.add(identity)
        unique.append(finding)
    present = {f.code for f in unique}

    tiers = {"improved": 2, "untried": 1, "no_effect": 0}

    def order(f: Finding) -> tuple[Any, ...]:
        # A cause whose fix was shown to restore learning outranks any unverified one, the biggest effect
        # first; one whose fix changed nothing where learning was broken goes after the untried ones.
        outcome = f.fix_outcome
        severity = Severity.ERROR if outcome == "improved" and f.severity >= Severity.WARNING else f.severity
        effect = float((f.verified or {}).get("effect") or 0.0) if outcome == "improved" else 0.0
        return (-int(severity), -tiers[outcome], -effect, -f.confidence, costs.get(f.check, 0), f.code)

    by_code = {f.code: f for f in unique}

    def refuted(cause: Finding, code: str) -> bool:
        """The verified fixes contradict the claim: the cause's changed nothing, the symptom's helped."""
        return cause.fix_outcome == "no_effect" and by_code[code].fix_outcome == "improved"

    # Evidence may add edges to the static graph (a DAG), so claims can form cycles. Edges are kept from
    # the best-ranked explainer down, and an edge that would close a cycle is dropped: every cycle keeps a
    # root, and it is the finding ranked first.
    edges: dict[str, set[str]] = {}
    for f in sorted(unique, key=order):
        for code in f.explains:
            if code in present and code != f.code and not refuted(f, code) and not _reaches(edges, code, f.code):
                edges.setdefault(f.code, set()).add(code)
    explained = {code for targets in edges.values() for code in targets}

    ranked: list[Finding] = []
    placed: set[int] = set()

    def place(cause: Finding) -> None:
        """The cause's own symptoms right after it, then what those explain and the cause does not."""
        direct = [f for f in unique if f.code in edges.get(cause.code, ()) and id(f) not in placed]
        for symptom in sorted(direct, key=order):
            symptom.explained_by = cause.code
            ranked.append(symptom)
            placed.add(id(symptom))
        for symptom in sorted(direct, key=order):
            place(symptom)

    for root in sorted((f for f in unique if f.code not in explained), key=order):
        ranked.append(root)
        placed.add(id(root))
        place(root)
    ranked.extend(sorted((f for f in unique if id(f) not in placed), key=order))
    return ranked


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    """Whether ``goal`` can be reached from ``start`` along ``edges``."""
    stack, seen = [start], {start}
    while stack:
        code = stack.pop()
        if code == goal:
            return True
        for following in edges.get(code, ()):
            if following not in seen:
                seen.add(following)
                stack.append(following)
    return False

"""`--format junit`: one testcase per check, one failure per finding, for CI test reporters."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from rnndoctor.core.levels import CheckStatus
from rnndoctor.render.common import evidence_line, model_headline, model_rows

if TYPE_CHECKING:
    from rnndoctor.core.findings import Report


def render(report: Report) -> str:
    failing = {id(f) for f in report.failing_findings}
    suite = ET.Element(
        "testsuite",
        name="rnndoctor",
        tests=str(len(report.checks)),
        failures="0",
        errors=str(sum(c.status is CheckStatus.ERRORED for c in report.checks)),
        skipped=str(sum(c.status is CheckStatus.SKIPPED for c in report.checks)),
        time=f"{report.timing.total_seconds:.3f}",
    )
    failures = 0
    for check in report.checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"rnndoctor.{check.name}", name=check.name, time=f"{check.seconds:.3f}"
        )
        # One system-out per test case: the check's line, then the findings that do not fail it.
        output = (
            [check.detail + "\n"] if check.status in (CheckStatus.PASSED, CheckStatus.FOUND) and check.detail else []
        )
        for finding in (f for f in report.findings if f.check == check.name):
            text = f"{finding.message}\n\nEvidence: {evidence_line(finding.evidence)}\n\nFix: {finding.fix}\n"
            if id(finding) in failing:
                failures += 1
                element = ET.SubElement(
                    case, "failure", message=f"{finding.code} {finding.title}", type=finding.severity.label
                )
                element.text = text
            else:
                output.append(f"[{finding.severity.label}] {finding.code} {finding.title}\n{text}")
        if output:
            ET.SubElement(case, "system-out").text = "\n".join(output)
        if check.status is CheckStatus.SKIPPED:
            ET.SubElement(case, "skipped", message=check.detail)
        elif check.status is CheckStatus.ERRORED:
            error = ET.SubElement(case, "error", message=check.detail)
            if check.timed_out:
                error.set("type", "INCOMPLETE")
            error.text = check.detail + (f"\n\nTo let it finish: {check.remedy}" if check.timed_out else "")
    if report.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(report.notes) + "\n"
    suite.set("failures", str(failures))
    properties = _verdict_properties(report)
    headline = model_headline(report)
    if headline is not None:
        ET.SubElement(properties, "property", name="model", value=headline)
        for name, kind, count, seen_in, seen_out in model_rows(report):
            ET.SubElement(
                properties, "property", name=f"model.{name}", value=f"{kind} · {count} · {seen_in} -> {seen_out}"
            )
    suite.insert(0, properties)  # one <properties> per suite, as the JUnit schema has it
    suites = ET.Element("testsuites", name="rnndoctor", tests=suite.get("tests", "0"), failures=str(failures))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _verdict_properties(report: Report) -> ET.Element:
    """The run's verdict word (PASS, FAIL, INCOMPLETE, INTERRUPTED) and exit code, for readers of the XML."""
    properties = ET.Element("properties")
    ET.SubElement(properties, "property", name="verdict", value=report.verdict)
    ET.SubElement(properties, "property", name="exit_code", value=str(report.exit_code))
    note = report.incomplete_note()
    if note:
        ET.SubElement(properties, "property", name="incomplete", value=note)
    return properties

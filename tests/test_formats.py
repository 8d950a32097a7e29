"""Every format renders for every fixture; the JSON follows the contract; JUnit parses; symptoms fold."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from rnndoctor.render import Format, render
from tests.helpers import validate_report
from tests.reports import all_fixtures, report_for

pytestmark = pytest.mark.slow  # a full diagnosis of every fixture


@pytest.mark.parametrize(("group", "name"), all_fixtures())
def test_every_format_renders(group: str, name: str) -> None:
    report = report_for(group, name)
    for fmt in Format:
        text = render(report, fmt)
        assert text.strip(), fmt
        for finding in report.findings:
            if fmt is not Format.JUNIT or finding.check:
                assert finding.code in text, (fmt, finding.code)
    validate_report(json.loads(render(report, Format.JSON)), exit_code=report.exit_code)
    suites = ET.fromstring(render(report, Format.JUNIT))
    cases = suites.findall("./testsuite/testcase")
    assert len(cases) == len(report.checks)
    failing = len(report.failing_findings)
    assert int(suites.get("failures", "0")) == failing


def test_symptoms_fold_under_their_cause() -> None:
    report = report_for("dynamics", "RD501")
    groups = report.groups()
    assert groups[0][0].code == "RD501"
    assert {s.code for s in groups[0][1]} == {f.code for f in report.findings[1:]}
    text = render(report, Format.TEXT)
    assert "Explained by RD501" in text and "↳ RD505" in text
    assert "Explained by RD501" in render(report, Format.MARKDOWN)
    assert "<details><summary>Explained by RD501" in render(report, Format.HTML)
    doc = json.loads(render(report, Format.JSON))
    assert [f.get("explained_by") for f in doc["findings"][1:]] == ["RD501"] * (len(doc["findings"]) - 1)


def test_notebook_and_print_display() -> None:
    report = report_for("data", "RD101")
    assert report._repr_html_().startswith('<div class="rnndoctor-report">') and "RD101" in report._repr_html_()
    assert "RD101" in str(report)


def test_ci_recipes_are_valid() -> None:
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    hooks = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "rnndoctor" and hooks[0]["entry"].startswith("rnndoctor check")
    workflow = yaml.safe_load((root / "docs/examples/github-actions.yml").read_text())
    steps = workflow["jobs"]["diagnose"]["steps"]
    script = next(s["run"] for s in steps if s.get("name") == "Diagnose")
    assert "exit $status" in script and "GITHUB_STEP_SUMMARY" in script
    local = (root / "docs/ci.md").read_text()
    recipes = [yaml.safe_load(block.split("```", 1)[0]) for block in local.split("```yaml")[1:]]
    assert recipes[0]["repos"][0]["repo"] == "local"
    assert [r["repos"][0]["hooks"][0]["id"] for r in recipes] == ["rnndoctor", "rnndoctor"]


def test_junit_reads_in_a_junit_library(tmp_path) -> None:  # type: ignore[no-untyped-def]
    junitparser = pytest.importorskip("junitparser")
    report = report_for("dynamics", "RD501")
    path = tmp_path / "rnndoctor.xml"
    path.write_text(render(report, Format.JUNIT))
    xml = junitparser.JUnitXml.fromfile(str(path))
    suite = next(iter(xml))
    cases = list(suite)
    assert len(cases) == len(report.checks)
    failed = [case for case in cases if any(isinstance(r, junitparser.Failure) for r in case.result)]
    assert {case.name for case in failed} == {f.check for f in report.failing_findings}

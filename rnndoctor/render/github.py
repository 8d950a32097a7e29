"""`--format github`: GitHub Actions workflow commands, one annotation per finding."""

from __future__ import annotations

from rnndoctor.findings import Report, Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    lines = []
    for finding in report.findings:
        props = [f"title={_escape_property(f'{finding.code} {finding.title}')}"]
        if report.config:
            props.insert(0, f"file={_escape_property(report.config)}")
        body = f"{finding.message}\n\nFix: {finding.fix}"
        lines.append(f"::{_LEVEL[finding.severity]} {','.join(props)}::{_escape_data(body)}")
    lines.append(f"rnndoctor: {report.verdict.lower()} ({report.summary()})")
    return "\n".join(lines) + "\n"

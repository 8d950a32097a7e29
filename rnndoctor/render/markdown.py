"""`--format markdown`: for pull-request comments and CI job summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnndoctor.core.levels import Severity
from rnndoctor.render.common import (
    MODEL_COLUMNS,
    evidence_line,
    markdown_safe,
    model_headline,
    model_rows,
    verification_line,
)

if TYPE_CHECKING:
    from rnndoctor.core.findings import Report

_ICON = {Severity.ERROR: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}


def render(report: Report) -> str:
    icon = {"FAIL": "❌", "PASS": "✅", "INCOMPLETE": "⚠️", "INTERRUPTED": "⚠️", "REPORT ONLY": "📋"}[report.verdict]
    lines = [
        "## rnndoctor diagnosis",
        "",
        f"{icon} **{report.verdict.lower()}** · {markdown_safe(report.summary())} · "
        f"`{report.config or 'objects'}`"
        + (f" on `{report.device}`" if report.ran_model else "")
        + (f" · task: {report.task['kind']}" if report.task.get("kind") else ""),
        "",
    ]
    if report.interrupted:
        lines += ["> Interrupted: this report is partial.", ""]
    incomplete = report.incomplete_note()
    if incomplete:
        lines += [f"> ⚠️ {markdown_safe(incomplete)}", ""]
    if report.script_note():
        lines += [f"> {report.script_note()}", ""]
    if report.step_note():
        lines += [f"> {report.step_note()}", ""]
    for note in report.notes:
        lines += [f"> {markdown_safe(note)}", ""]
    if not report.findings:
        lines += ["No problems found" + ("." if report.ran_model else " in the series read."), ""]
    for rank, (finding, symptoms) in enumerate(report.groups(), 1):
        lines += [
            f"### {rank}. {_ICON[finding.severity]} {finding.code} — {markdown_safe(finding.title)}",
            "",
            markdown_safe(finding.message),
            "",
            f"<sub>Evidence: {markdown_safe(evidence_line(finding.evidence))}</sub>",
            "",
            "**Fix:** " + markdown_safe(finding.fix),
            "",
        ]
        tried = verification_line(finding)
        if tried is not None:
            lines += [f"<sub>{markdown_safe(tried)}</sub>", ""]
        if symptoms:
            lines += [f"Explained by {finding.code} (fixed with it):", ""]
            lines += [
                f"- {_ICON[s.severity]} **{s.code}** {markdown_safe(s.title)}: {markdown_safe(s.message)}"
                for s in symptoms
            ]
            lines.append("")
    lines += ["<details><summary>Checks</summary>", "", "| check | status | seconds | detail |", "|---|---|---|---|"]
    for check in report.checks:
        detail = markdown_safe(check.detail).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {check.name} | {check.status.value} | {check.seconds:.2f} | {detail} |")
    headline = model_headline(report)
    if headline is not None:
        lines += ["", f"**Model** {markdown_safe(headline)}", "", "| " + " | ".join(MODEL_COLUMNS) + " |"]
        lines += [
            "|---|---|---:|---|---|",
            *("| " + " | ".join(markdown_safe(c) for c in row) + " |" for row in model_rows(report)),
        ]
    timing = report.timing
    lines += [
        "",
        (f"{timing.forward_passes} forward / {timing.backward_passes} backward passes in " if report.ran_model else "")
        + f"{timing.total_seconds:.1f} s",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)

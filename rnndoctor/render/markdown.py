"""`--format markdown`: for pull-request comments and CI job summaries."""

from __future__ import annotations

from rnndoctor.findings import Report, Severity
from rnndoctor.render import evidence_line

_ICON = {Severity.ERROR: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}


def render(report: Report) -> str:
    verdict = "❌ **fail**" if report.status == "fail" else "✅ **pass**"
    counts = report.counts()
    lines = [
        "## rnndoctor diagnosis",
        "",
        f"{verdict} · {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info · "
        f"`{report.config or 'objects'}` on `{report.device}`"
        + (f" · task: {report.task['kind']}" if report.task.get("kind") else ""),
        "",
    ]
    if report.interrupted:
        lines += ["> Interrupted: this report is partial.", ""]
    if not report.findings:
        lines += ["No problems found.", ""]
    for rank, (finding, symptoms) in enumerate(report.groups(), 1):
        lines += [
            f"### {rank}. {_ICON[finding.severity]} {finding.code} — {finding.title}",
            "",
            finding.message,
            "",
            f"<sub>Evidence: {evidence_line(finding.evidence)}</sub>",
            "",
            "**Fix:** " + finding.fix,
            "",
        ]
        if symptoms:
            lines += [f"Explained by {finding.code} (fixed with it):", ""]
            lines += [f"- {_ICON[s.severity]} **{s.code}** {s.title}: {s.message}" for s in symptoms]
            lines.append("")
    lines += ["<details><summary>Checks</summary>", "", "| check | status | seconds | detail |", "|---|---|---|---|"]
    for check in report.checks:
        detail = check.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {check.name} | {check.status.value} | {check.seconds:.2f} | {detail} |")
    timing = report.timing
    lines += [
        "",
        f"{timing.forward_passes} forward / {timing.backward_passes} backward passes in {timing.total_seconds:.1f} s",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)

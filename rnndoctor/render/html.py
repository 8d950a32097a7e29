"""`--format html`: one self-contained page (inline CSS, no external assets)."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from rnndoctor.core.levels import REPORT_ONLY
from rnndoctor.core.version import VERSION as __version__
from rnndoctor.render.common import MODEL_COLUMNS, evidence_line, model_headline, model_rows, verification_line
from rnndoctor.render.plots import MIN_WIDTH_REM, plots_of, svg

if TYPE_CHECKING:
    from rnndoctor.core.findings import Report

ROOT_CLASS = "rnndoctor-report"
"""Every style rule is scoped under this class, so a notebook or a page embedding the report keeps its own look."""

_STYLE: tuple[tuple[str, str], ...] = (
    ("", "font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#222;background:#fff"),
    (".verdict", "font-size:1.3rem;font-weight:600"),
    (".verdict.fail", "color:#b00020"),
    (".verdict.pass", "color:#1b7f3b"),
    (".verdict.report-only", "color:#b45f00"),
    (".finding", "border-left:4px solid #888;padding:.3rem 1rem;margin:1rem 0;background:#fafafa"),
    (".finding.error", "border-color:#b00020"),
    (".finding.warning", "border-color:#d98200"),
    (".finding.info", "border-color:#2962ff"),
    ("code, pre", "background:#f0f0f0;border-radius:3px"),
    ("pre", "padding:.6rem;overflow-x:auto"),
    ("table", "border-collapse:collapse;width:100%"),
    ("td, th", "border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere"),
    ("tr > td:nth-child(-n+3), th", "white-space:nowrap"),
    (".evidence", "color:#555;font-size:.9rem"),
    (".note", "color:#b45f00"),
    (".status", "font-weight:600"),
    (".status-passed .status", "color:#1b7f3b"),
    (".status-found .status", "color:#b45f00"),
    (".status-skipped .status", "color:#777"),
    (".status-errored .status", "color:#b00020"),
    ("figure", "margin:1rem 0;overflow-x:auto"),
    ("svg", f"display:block;width:100%;height:auto;min-width:{MIN_WIDTH_REM}rem"),
    (".tick", "fill:#555"),
    ("footer", "color:#777;font-size:.85rem"),
)


def scoped_css() -> str:
    """The report's style sheet, every selector prefixed with the report's root class."""
    root = f".{ROOT_CLASS}"
    return "\n".join(
        (",".join(f"{root} {part.strip()}" for part in selectors.split(",")) if selectors else root) + f"{{{body}}}"
        for selectors, body in _STYLE
    )


_FENCE = re.compile(r"```(?:\w+)?\n(.*?)```", re.S)


def _text_with_code(text: str) -> str:
    parts = []
    last = 0
    for match in _FENCE.finditer(text):
        parts.append(_inline(text[last : match.start()]))
        parts.append(f"<pre><code>{html.escape(match.group(1))}</code></pre>")
        last = match.end()
    parts.append(_inline(text[last:]))
    return "".join(parts)


def _inline(text: str) -> str:
    escaped = html.escape(text.strip())
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return f"<p>{escaped}</p>" if escaped else ""


def render(report: Report) -> str:
    """A complete, self-contained page."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="rnndoctor {html.escape(__version__)}">'
        f"<title>rnndoctor diagnosis: {report.verdict}</title></head><body>{render_fragment(report)}</body></html>\n"
    )


def render_fragment(report: Report) -> str:
    """The report as one element carrying its own style sheet, whose rules apply inside that element only:
    for notebooks and pages that embed it."""
    return f'<div class="{ROOT_CLASS}"><style>{scoped_css()}</style>{"".join(_body(report))}</div>'


def _verdict_class(report: Report) -> str:
    return "report-only" if report.verdict == REPORT_ONLY else report.status


def _body(report: Report) -> list[str]:
    body = [
        "<h1>rnndoctor diagnosis</h1>",
        f'<p class="verdict {_verdict_class(report)}">{report.verdict}: {html.escape(report.summary())}</p>',
        f"<p>{html.escape(report.config or 'objects')}"
        + (f" · {html.escape(report.device)}" if report.ran_model else "")
        + (f" · task: {html.escape(str(report.task['kind']))}" if report.task.get("kind") else "")
        + "</p>",
    ]
    if report.interrupted:
        body.append("<p><b>Interrupted: this report is partial.</b></p>")
    incomplete = report.incomplete_note()
    if incomplete:
        body.append(f'<p class="incomplete"><b>{html.escape(incomplete)}</b></p>')
    body += [f'<p class="note">{html.escape(note)}</p>' for note in report.notes]
    for rank, (finding, symptoms) in enumerate(report.groups(), 1):
        folded = "".join(
            f'<li class="{s.severity.label}"><b>{s.code}</b> {html.escape(s.title)} '
            f"<small>({s.severity.label})</small>: {html.escape(s.message)}</li>"
            for s in symptoms
        )
        body.append(
            f'<div class="finding {finding.severity.label}"><h2>{rank}. {finding.code} · '
            f"{html.escape(finding.title)} <small>({finding.severity.label})</small></h2>"
            f"{_text_with_code(finding.message)}"
            f'<p class="evidence">Evidence: {html.escape(evidence_line(finding.evidence))}</p>'
            f"<h3>Fix</h3>{_text_with_code(finding.fix)}"
            + (f'<p class="verified">{html.escape(tried)}</p>' if (tried := verification_line(finding)) else "")
            + (
                f"<details><summary>Explained by {finding.code} ({len(symptoms)})</summary><ul>{folded}</ul></details>"
                if symptoms
                else ""
            )
            + "</div>"
        )
    if not report.findings:
        body.append("<p>No problems found" + ("." if report.ran_model else " in the series read.") + "</p>")
    rows = "".join(
        f'<tr class="status-{c.status.value}"><td>{html.escape(c.name)}</td><td class="status">{c.status.value}</td>'
        f"<td>{c.seconds:.2f}</td><td>{html.escape(c.detail)}</td></tr>"
        for c in report.checks
    )
    figures = [svg(figure) for check in report.checks for figure in plots_of(check.metrics)]
    if any(figures):
        body.append("<h2>Plots</h2>" + "".join(figures))
    body.append(f"<h2>Checks</h2><table><tr><th>check</th><th>status</th><th>s</th><th>detail</th></tr>{rows}</table>")
    headline = model_headline(report)
    if headline is not None:
        head = "".join(f"<th>{column}</th>" for column in MODEL_COLUMNS)
        layers = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in model_rows(report)
        )
        body.append(f'<h2>Model</h2><p>{html.escape(headline)}</p><table class="model"><tr>{head}</tr>{layers}</table>')
    t = report.timing
    body.append(
        "<footer><p>"
        + (f"{t.forward_passes} forward / {t.backward_passes} backward passes in " if report.ran_model else "")
        + f"{t.total_seconds:.2f} s"
        f" · rnndoctor {html.escape(__version__)}</p></footer>"
    )
    return body

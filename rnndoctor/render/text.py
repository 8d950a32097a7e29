"""The terminal report: verdict first, then ranked findings with their numbers and fixes."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from rnndoctor.core.levels import CheckStatus, Severity
from rnndoctor.render.common import MODEL_COLUMNS, markdown_safe, model_headline, model_rows, verification_line
from rnndoctor.render.plots import has_series, lines_of, plots_of, sparklines

if TYPE_CHECKING:
    from rnndoctor.core.findings import Report

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold blue"}
STATUS_STYLE = {
    CheckStatus.PASSED: "green",
    CheckStatus.FOUND: "yellow",
    CheckStatus.SKIPPED: "dim",
    CheckStatus.ERRORED: "red",
}


FILE_WIDTH = 100
"""Columns of a text report written to a file or turned into a string: no terminal to follow there."""


def render(report: Report, *, color: bool = False, width: int | None = None) -> str:
    """The report as a string: plain (or ANSI-coloured with ``color``), ``width`` or `FILE_WIDTH` columns."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="auto" if color else None,
        width=width or FILE_WIDTH,
        highlight=False,
        soft_wrap=False,
    )
    print_report(console, report)
    return buffer.getvalue()


def print_to_terminal(report: Report, stream: TextIO) -> None:
    """Print the report the way command-line tools are expected to: as wide as the terminal (or ``COLUMNS``),
    in colour on a terminal or under ``FORCE_COLOR``, and without any escape code under ``NO_COLOR``."""
    print_report(terminal_console(stream), report)


def terminal_console(stream: TextIO) -> Console:
    """A console that leaves width, terminal detection and ``FORCE_COLOR`` to rich. ``NO_COLOR`` turns off
    every style, not only the colours rich drops for it: bold and reverse video are escape codes too."""
    plain = os.environ.get("NO_COLOR", "") != ""
    return Console(file=stream, color_system=None if plain else "auto", highlight=False, soft_wrap=False)


def print_report(console: Console, report: Report) -> None:
    verdict = Text()
    style = {
        "FAIL": "bold white on red",
        "INCOMPLETE": "bold black on yellow",
        "INTERRUPTED": "bold black on yellow",
        "PASS": "bold white on green",
        "REPORT ONLY": "bold black on yellow",
    }
    verdict.append(f" {report.verdict} ", style=style[report.verdict])
    verdict.append(f"  {report.summary()}", style="bold")
    where = f" · {report.device}" if report.ran_model else ""
    header = Text(f"rnndoctor · {report.config or 'objects'}{where}", style="dim")
    if report.task.get("kind"):
        header.append(f" · task: {report.task['kind']}", style="dim")
    console.print(header)
    console.print(verdict)
    if report.interrupted:
        console.print(Text("Interrupted: the report below is partial.", style="bold yellow"))
    incomplete = report.incomplete_note()
    if incomplete:
        console.print(Text(incomplete, style="bold yellow"))
    script = report.script_note()
    if script:
        console.print(Text(script, style="dim"))
    note = report.step_note()
    if note:
        console.print(Text(note, style="dim"))
    for note in report.notes:
        console.print(Text(note, style="yellow"))
    console.print()
    if not report.findings:
        scope = "by the checks that ran" if report.ran_model else "in the series read"
        console.print(Text(f"No problems found {scope}.", style="green"))
        console.print()
    for rank, (finding, symptoms) in enumerate(report.groups(), 1):
        title = Text()
        title.append(f"{rank}. ", style="bold")
        title.append(f"{finding.code} ", style=SEVERITY_STYLE[finding.severity])
        title.append(f"[{finding.severity.label}] ", style=SEVERITY_STYLE[finding.severity])
        title.append(finding.title, style="bold")
        title.append(f"  ({finding.check})", style="dim")
        console.print(title)
        console.print(Text(finding.message), style=None)
        evidence = _evidence_table(finding.evidence)
        if evidence is not None:
            console.print(evidence)
        console.print(
            Panel(
                Markdown(markdown_safe(finding.fix)), title="fix", title_align="left", border_style="cyan", expand=True
            )
        )
        tried = verification_line(finding)
        if tried is not None:
            console.print(Text(tried, style="green" if finding.fix_outcome == "improved" else "dim"))
        if symptoms:
            console.print(Text(f"Explained by {finding.code}, fixed with it:", style="dim"))
            for symptom in symptoms:
                line = Text("  ↳ ")
                line.append(f"{symptom.code} ", style=SEVERITY_STYLE[symptom.severity])
                line.append(f"[{symptom.severity.label}] {symptom.title}", style="bold")
                line.append(f"  ({symptom.check}): {first_sentence(symptom.message)}", style="dim")
                console.print(line)
        console.print()
    console.print(_checks_table(report))
    model = _model_table(report)
    if model is not None:
        console.print(model)
    for check in report.checks:
        for figure in plots_of(check.metrics):
            for line in _plot_lines(figure, check.name):
                console.print(line)
    t = report.timing
    passes = f"{t.forward_passes} forward / {t.backward_passes} backward passes · " if report.ran_model else ""
    console.print(Text(f"{passes}{t.total_seconds:.2f} s · `rnndoctor explain CODE` for details", style="dim"))


def _plot_lines(figure: dict[str, Any], check: str) -> list[Text]:
    """A plot as sparklines: one line after its title, or with ``series`` the title and then one labelled
    sparkline per series, all on one scale."""
    lines = [(label, values) for label, values in lines_of(figure) if any(v is not None for v in values)]
    if not lines:
        return []
    charts = sparklines([values for _, values in lines], log=bool(figure.get("log_y")))
    title = Text(f"{figure['title']} ({check}):", style="dim")
    if not has_series(figure):
        return [title + " " + _chart(charts[0], lines[0][1])]
    label_width = max(len(label) for label, _ in lines)
    return [title] + [
        Text(f"  {label:<{label_width}}  ") + _chart(chart, values)
        for (label, values), chart in zip(lines, charts, strict=True)
    ]


def _chart(chart: str, values: list[float | None]) -> Text:
    present = [v for v in values if v is not None]
    text = Text(chart, style="cyan")
    text.append(f"  {min(present):.3g} .. {max(present):.3g}", style="dim")
    return text


def first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + ("." if dot else "")


def _evidence_table(evidence: dict[str, object]) -> Table | None:
    if not evidence:
        return None
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    for key, value in evidence.items():
        table.add_row(Text(str(key)), Text(_format_value(value)))
    return table


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        items = list(value.items())
        shown = ", ".join(f"{k}: {_format_value(v)}" for k, v in items[:10])
        return "{" + shown + (", ..." if len(items) > 10 else "") + "}"
    if isinstance(value, (list, tuple)):
        shown = ", ".join(_format_value(v) for v in list(value)[:10])
        return "[" + shown + (", ..." if len(value) > 10 else "") + "]"
    return str(value)


def _model_table(report: Report) -> Group | None:
    headline = model_headline(report)
    if headline is None:
        return None
    table = Table(title=None, show_edge=False, box=None, padding=(0, 1), header_style="bold")
    for column in MODEL_COLUMNS:
        table.add_column(column, justify="right" if column == "parameters" else "left")
    for row in model_rows(report):
        table.add_row(*row)
    return Group(Text.assemble(("Model ", "bold"), (headline, "dim")), table)


def _checks_table(report: Report) -> Group:
    table = Table(title=None, show_edge=False, box=None, padding=(0, 1), header_style="bold")
    table.add_column("check")
    table.add_column("status")
    table.add_column("s", justify="right")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        table.add_row(
            check.name,
            Text(check.status.value, style=STATUS_STYLE[check.status]),
            f"{check.seconds:.2f}",
            Text(check.detail),
        )
    return Group(Text("Checks", style="bold"), table)

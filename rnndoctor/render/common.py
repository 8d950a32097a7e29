"""Pieces of text several formats share: a finding's evidence in one line, its verified fix in one sentence,
text made safe for markdown, the model summary's lines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnndoctor.core.findings import Finding, Report


def evidence_line(evidence: dict[str, object], limit: int = 8) -> str:
    """A compact ``key=value`` summary of a finding's evidence for one-line formats."""
    parts = []
    for key, value in list(evidence.items())[:limit]:
        if isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, (dict, list)) and len(str(value)) > 60:
            text = str(value)[:57] + "..."
        else:
            text = str(value)
        parts.append(f"{key}={text}")
    return ", ".join(parts)


_CODE_SPANS = re.compile(r"(```.*?```|`[^`\n]+`)", re.S)


def markdown_safe(text: str) -> str:
    """Text for a markdown document: outside code spans and fences, ``<``, ``>`` and ``&`` become entities,
    so a user's ``<pad>`` token is shown rather than swallowed as an HTML tag."""
    parts = _CODE_SPANS.split(text)
    return "".join(
        part if index % 2 else part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for index, part in enumerate(parts)
    )


def verification_line(finding: Finding) -> str | None:
    """The fix as tried on the user's model, in one sentence: ``fix verified: loss 1.10 -> 0.02 in 40 steps
    (without it: 1.10 -> 1.09)``; None when no fix was tried for this finding."""
    verified = finding.verified
    if not verified:
        return None
    if not verified.get("applied"):
        return f"fix not tried automatically: {verified.get('reason', 'no mechanical version')}"
    before, after = verified.get("before", {}), verified.get("after", {})
    short = verified.get("measure") == "short run"
    where = f"held-out loss after a {after.get('steps')}-step short run" if short else "loss on one batch"
    change = f" Tried: {verified['change']}." if verified.get("change") else ""
    if verified.get("improved") and verified.get("closes_leak"):
        head = f"fix verified: without the leak the {where} goes {_run(after, short)}, a real task"
        return f"{head} (with it: {_run(before, short)}, read off the inputs).{change}"
    if verified.get("improved"):
        head = f"fix verified: {where} {_run(after, short)}"
    elif finding.fix_outcome == "no_effect":
        head = f"fix tried, no effect: {where} {_run(after, short)}"
    else:
        head = f"fix tried, no measurable effect: {where} {_run(after, short)}"
    tail = f" (without it: {_run(before, short)})"
    if finding.fix_outcome == "no_effect":
        tail += "; probably not what stops training"
    return head + tail + "." + change


def _run(run: dict[str, object], short: bool) -> str:
    if run.get("error"):
        return f"crashes ({run['error']})"
    text = f"{_number(run.get('initial_loss'))} → {_number(run.get('final_loss'))}"
    if not short:
        text += f" in {run.get('steps')} steps"
    balanced = run.get("balanced_accuracy")
    if short and isinstance(balanced, (int, float)):
        text += f", balanced accuracy {balanced:.2f}"
    return text


def _number(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else str(value)


def model_headline(report: Report) -> str | None:
    """``Tagger (models.py:4) · 6,402 parameters, all trainable``: the model summary's first line, None
    without a model."""
    model = report.model
    if not model:
        return None
    where = f" ({source_path(model['file'])}:{model['line']})" if model.get("file") else ""
    total, trainable = int(model.get("parameters", 0)), int(model.get("trainable", 0))
    share = "all trainable" if total == trainable else f"{trainable:,} trainable"
    return f"{model['class']}{where} · {total:,} parameters, {share}"


MODEL_COLUMNS = ("layer", "type", "parameters", "input", "output")


def model_rows(report: Report) -> list[tuple[str, str, str, str, str]]:
    """One row per layer of the summary: name, type, parameters, and the shapes seen on a real batch."""
    return [
        (
            str(row["name"]),
            str(row["type"]),
            f"{int(row['parameters']):,}",
            _shape_text(row.get("input")),
            _shape_text(row.get("output")),
        )
        for row in report.model.get("layers", [])
    ]


def _shape_text(shape: object) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]" if isinstance(shape, list) else "-"


def source_path(path: str) -> str:
    """A source file relative to the working directory when it lies inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path

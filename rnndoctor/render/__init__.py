"""One renderer per output format; each turns a Report into the text written out."""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rnndoctor.core.findings import Finding, Report


class Format(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    GITHUB = "github"
    JUNIT = "junit"
    HTML = "html"


def renderer(fmt: Format) -> Callable[..., str]:
    from rnndoctor.render import github, html, json_report, junit, markdown, text

    return {
        Format.TEXT: text.render,
        Format.JSON: json_report.render,
        Format.MARKDOWN: markdown.render,
        Format.GITHUB: github.render,
        Format.JUNIT: junit.render,
        Format.HTML: html.render,
    }[fmt]


def render(report: Report, fmt: Format | str, *, color: bool = False, width: int | None = None) -> str:
    fmt = Format(fmt)
    if fmt is Format.TEXT:
        return renderer(fmt)(report, color=color, width=width)
    return renderer(fmt)(report)


@dataclass(frozen=True)
class ReportTarget:
    """One report file to write: ``--report FORMAT=PATH``, or ``--format FORMAT --output PATH``."""

    fmt: Format
    path: Path


def parse_report_target(text: str) -> ReportTarget:
    """``json=reports/rnndoctor.json`` as a target; ValueError says what is wrong with anything else."""
    name, equals, path = text.partition("=")
    if not equals or not name.strip() or not path.strip():
        raise ValueError(f"expected FORMAT=PATH, such as json=reports/rnndoctor.json; got {text!r}")
    try:
        fmt = Format(name.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in Format)
        raise ValueError(f"unknown format {name.strip()!r} in {text!r} (choose from {choices})") from None
    return ReportTarget(fmt, Path(path.strip()))


def prepare_targets(targets: Sequence[ReportTarget]) -> None:
    """Make every target writable before the run: create missing folders, refuse a path written twice, a
    folder, or a folder that cannot be written. Raises OSError with the path in its message."""
    seen: set[Path] = set()
    for target in targets:
        resolved = target.path.resolve()
        if resolved in seen:
            raise OSError(f"{target.path}: the same file is given for two reports")
        seen.add(resolved)
        if target.path.is_dir():
            raise OSError(f"{target.path}: is a folder, not a file")
        folder = target.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"{target.path}: cannot create its folder: {exc.strerror or exc}") from None
        if not os.access(folder, os.W_OK):
            raise OSError(f"{target.path}: its folder {folder} is not writable")


def write_report(report: Report, target: ReportTarget) -> None:
    """Render ``report`` in the target's format into its file (text without colour, 100 columns wide)."""
    target.path.parent.mkdir(parents=True, exist_ok=True)
    with target.path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(render(report, target.fmt))


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

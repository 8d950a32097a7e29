"""One renderer per output format; each turns a Report into the text written out."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from rnndoctor.findings import Report


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

"""One renderer per output format; each turns a Report into the text written out."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnndoctor.core.findings import Report


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

"""`--format github`: GitHub Actions workflow commands, one annotation per finding.

Each annotation points where the cause most likely sits: the line of the user's code that raised (a crash
finding's ``at`` evidence, ``models.py:42``); for a finding about the model's structure (RD2xx), the line of
the model's class that builds the layer it names; else the line of the config key the finding is about
(``loss:`` for a loss finding), else the config file as a whole. A symptom explained by a root cause is
listed in the cause's annotation, not annotated on its own. GitHub wants paths relative to the
repository root, which is the working directory of a workflow step.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rnndoctor.core.levels import Severity
from rnndoctor.render.common import model_headline, model_rows

if TYPE_CHECKING:
    from rnndoctor.core.findings import Finding, Report

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}

# The config keys a finding of each family is about, the likeliest first.
_FAMILY_KEYS = {
    "RD0": ("train_data", "datamodule", "batch_keys", "forward"),
    "RD1": ("train_data", "datamodule"),
    "RD2": ("model",),
    "RD3": ("loss",),
    "RD4": ("train_step", "optimizer_args", "model"),
    "RD5": ("optimizer_args", "optimizer", "train_step"),
    "RD6": ("val_data", "datamodule", "model"),
}
# Where a crash happened, when the traceback held no frame of the user's code.
_STAGE_KEYS = {
    "forward": ("forward", "model"),
    "loss": ("loss",),
    "backward": ("train_step", "model"),
    "train_step": ("train_step",),
    "train_data": ("train_data", "datamodule"),
    "val_data": ("val_data", "datamodule"),
}
_CODE_LOCATION = re.compile(r"^(?P<name>[^:]+\.py):(?P<line>\d+)$")
_SKIPPED_FOLDERS = {"site-packages", "node_modules", "__pycache__"}
_SEARCH_LIMIT = 5000


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    lines = []
    # One annotation per cause: the symptoms it explains are listed in it, not annotated as errors of their own.
    for finding, symptoms in report.groups():
        props = []
        path, line = location(report, finding)
        if path:
            props.append(f"file={_escape_property(path)}")
        if line:
            props.append(f"line={line}")
        props.append(f"title={_escape_property(f'{finding.code} {finding.title}')}")
        body = f"{finding.message}\n\nFix: {finding.fix}"
        if symptoms:
            body += f"\n\nExplained by {finding.code}, fixed with it: " + "; ".join(
                f"{s.code} {s.title}" for s in symptoms
            )
        lines.append(f"::{_LEVEL[finding.severity]} {','.join(props)}::{_escape_data(body)}")
    incomplete = report.incomplete_note()
    if incomplete:
        level = "warning" if report.allow_incomplete else "error"
        lines.append(f"::{level} title={_escape_property('rnndoctor: INCOMPLETE')}::{_escape_data(incomplete)}")
    lines += [f"::notice title=rnndoctor::{_escape_data(note)}" for note in report.notes]
    if not report.ran_model:
        # What a log's report read and left out (its series) is in its one check's line.
        lines += [f"rnndoctor: {check.name}: {check.detail}" for check in report.checks]
    headline = model_headline(report)
    if headline is not None:
        layers = "; ".join(
            f"{name}: {kind} {seen_in} -> {seen_out}" for name, kind, _, seen_in, seen_out in model_rows(report)
        )
        lines.append(f"rnndoctor: model {headline}" + (f" ({layers})" if layers else ""))
    lines.append(f"rnndoctor: {report.verdict.lower()} ({report.summary()})")
    return "\n".join(lines) + "\n"


def location(report: Report, finding: Finding) -> tuple[str | None, int | None]:
    """The file (relative to the working directory when inside it) and line a finding's annotation goes on."""
    at = finding.evidence.get("at")
    match = _CODE_LOCATION.match(at) if isinstance(at, str) else None
    if match:
        found = _find_user_file(match["name"], Path(report.config).parent if report.config else None)
        if found is not None:
            return _relative(found), int(match["line"])
    model_line = _model_location(report, finding) if finding.code.startswith("RD2") else None
    if model_line is not None:
        return model_line
    if not report.config or Path(report.config).is_dir():
        return None, None  # a folder (a log's, for `rnndoctor curves`) has no line to annotate
    stage = finding.evidence.get("stage")
    keys = _STAGE_KEYS.get(stage, ()) if isinstance(stage, str) else ()
    return _relative(Path(report.config)), _key_line(Path(report.config), keys + _FAMILY_KEYS.get(finding.code[:3], ()))


def _model_location(report: Report, finding: Finding) -> tuple[str, int] | None:
    """For a finding about the model's structure: the line of the model's class that builds the layer the
    finding names (``self.encoder = nn.GRU(...)``), else the class line; None when the class is not a file
    of the repository (a torch or library class)."""
    source = report.model.get("file")
    start = report.model.get("line")
    if not isinstance(source, str) or not isinstance(start, int):
        return None
    path = Path(source)
    relative = _relative(path)
    if Path(relative).is_absolute():
        return None
    layer = finding.evidence.get("layer") or finding.evidence.get("attr")
    if isinstance(layer, str) and layer:
        assigned = re.compile(rf"^\s+self\.{re.escape(layer.split('.')[0])}\s*(:[^=]*)?=")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        for number in range(start, len(lines)):
            if number > start and lines[number].startswith("class "):
                break
            if assigned.match(lines[number]):
                return relative, number + 1
    return relative, start


def _find_user_file(name: str, config_folder: Path | None) -> Path | None:
    """The one file called ``name`` beside the config, in the working directory, or below the config's
    folder (a traceback names the file only); None when there is none or more than one."""
    for folder in (config_folder, Path.cwd()):
        if folder is not None and (folder / name).is_file():
            return folder / name
    if config_folder is None:
        return None
    matches: list[Path] = []
    seen = 0
    for root, folders, files in os.walk(config_folder):
        folders[:] = [f for f in folders if not f.startswith(".") and f not in _SKIPPED_FOLDERS]
        seen += len(files)
        if name in files:
            matches.append(Path(root) / name)
        if len(matches) > 1 or seen > _SEARCH_LIMIT:
            return None
    return matches[0] if matches else None


def _key_line(config: Path, keys: tuple[str, ...]) -> int | None:
    """The line of the first of ``keys`` written at the top level of the YAML config, or None."""
    if config.suffix not in (".yaml", ".yml"):
        return None
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.splitlines()
    for key in keys:
        pattern = re.compile(rf"^{re.escape(key)}\s*:")
        for number, line in enumerate(lines, 1):
            if pattern.match(line):
                return number
    return None


def _relative(path: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()

"""The value types every check produces and every renderer consumes.

They are plain dataclasses with no torch in them, so the judging logic and the renderers can be
tested without running a model.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from rnndoctor.core.levels import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SETUP,
    NO_DEVICE,
    REPORT_ONLY,
    CheckStatus,
    FailOn,
    Severity,
)

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SETUP",
    "NO_DEVICE",
    "REPORT_ONLY",
    "REPORT_SCHEMA",
    "CheckResult",
    "CheckStatus",
    "FailOn",
    "Finding",
    "Report",
    "Severity",
    "Timing",
    "to_jsonable",
]

REPORT_SCHEMA = "rnndoctor.report/1"


@dataclass
class Finding:
    code: str
    severity: Severity
    title: str
    message: str
    fix: str
    evidence: dict[str, Any] = field(default_factory=dict)
    check: str = ""
    confidence: float = 1.0
    """How sure the judge is that this is the real cause, from 0 to 1; used for ranking."""
    explains: tuple[str, ...] = ()
    """Codes of symptoms this finding accounts for, so a ranker can put it above them."""
    explained_by: str | None = None
    """Set by the ranking: the code of the root cause this symptom is folded under."""
    from_crash: bool = False
    """Derived from an exception's message rather than measured; a measured finding of the same code wins."""
    verified: dict[str, Any] | None = None
    """The fix tried on the user's model (`rnndoctor.checks.verification`): applied, before, after, improved."""

    @property
    def fix_outcome(self) -> str:
        """'improved' (the fix restored learning), 'no_effect' (tried where learning was broken, changed
        nothing), or 'untried' (no automatic fix, not applicable, nothing to restore, or a trial of one of
        several possible causes)."""
        verified = self.verified or {}
        if not verified.get("applied"):
            return "untried"
        if verified.get("improved"):
            return "improved"
        return "untried" if verified.get("baseline_learned") or verified.get("partial") else "no_effect"

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "code": self.code,
            "severity": self.severity.label,
            "title": self.title,
            "message": self.message,
            "fix": self.fix,
            "evidence": to_jsonable(self.evidence),
            "check": self.check,
            "confidence": round(float(self.confidence), 3),
        }
        if self.explained_by:
            doc["explained_by"] = self.explained_by
        doc["verified"] = to_jsonable(self.verified)
        return doc


@dataclass
class CheckResult:
    name: str
    status: CheckStatus
    seconds: float = 0.0
    detail: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    cost: int = 0
    timed_out: bool = False
    """Stopped by the ``check_timeout`` safety net before its verdict: the run is incomplete (exit code 3)."""
    remedy: str = ""
    """For a check stopped by the safety net: what to give it (more time, fewer steps) to let it finish."""

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "name": self.name,
            "status": self.status.value,
            "seconds": round(self.seconds, 4),
            "detail": self.detail,
            "metrics": to_jsonable(self.metrics),
        }
        if self.timed_out:
            doc["timed_out"] = True
            doc["remedy"] = self.remedy
        return doc


@dataclass
class Timing:
    total_seconds: float = 0.0
    forward_passes: int = 0
    backward_passes: int = 0
    peak_memory_mb: float | None = None
    """Peak resident memory of the process (CPU) or peak allocated memory on the device (CUDA)."""

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "total_seconds": round(self.total_seconds, 4),
            "forward_passes": self.forward_passes,
            "backward_passes": self.backward_passes,
        }
        if self.peak_memory_mb is not None:
            doc["peak_memory_mb"] = round(self.peak_memory_mb, 1)
        return doc


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 or word == "info" else f"{count} {word}s"


@dataclass
class Report:
    config: str | None
    device: str
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    timing: Timing = field(default_factory=Timing)
    fail_on: FailOn = FailOn.ERROR
    task: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    script_output: str = field(default="", repr=False)
    """What a diagnosed script printed (script mode; shown with --verbose, not part of any report format)."""
    """Who produced the report and how: tool versions, seed, threads, fail_on, start time (contract §7)."""
    allow_incomplete: bool = False
    """``--allow-incomplete``: a check stopped by the safety net no longer makes the exit code 3."""
    notes: list[str] = field(default_factory=list)
    """Said under the verdict in every format: what the verdict does not cover (series of a log not read)."""
    model: dict[str, Any] = field(default_factory=dict)
    """The model summary: class, source file and line, parameter counts, and per layer its type, parameters
    and the shapes it saw on a real batch (`rnndoctor.runtime.summary`)."""

    @property
    def ran_model(self) -> bool:
        """Whether the report comes from runs of a model (``check``), not from a training log (``curves``):
        only then do a device and counts of forward and backward passes mean anything."""
        return self.device != NO_DEVICE

    @property
    def failing_findings(self) -> list[Finding]:
        threshold = self.fail_on.threshold()
        if threshold is None:
            return []
        return [f for f in self.findings if f.severity >= threshold]

    @property
    def completed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status in (CheckStatus.PASSED, CheckStatus.FOUND)]

    @property
    def unfinished_checks(self) -> list[CheckResult]:
        """Checks stopped before a verdict (a crash in the check, its time safety net): the run is incomplete."""
        return [c for c in self.checks if c.status is CheckStatus.ERRORED]

    @property
    def timed_out_checks(self) -> list[CheckResult]:
        """Checks the ``check_timeout`` safety net stopped: their verdicts are missing from the report."""
        return [c for c in self.checks if c.timed_out]

    @property
    def data_unusable(self) -> bool:
        """The training data gives no usable batch (an unusable validation split still leaves a verdict)."""
        return any(f.code == "RD002" and f.evidence.get("split", "train") == "train" for f in self.findings)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.data_unusable or (self.checks and not self.completed_checks):
            return EXIT_SETUP
        if self.timed_out_checks and not self.allow_incomplete:
            return EXIT_INCOMPLETE
        return EXIT_FINDINGS if self.failing_findings else EXIT_OK

    @property
    def status(self) -> str:
        return "fail" if self.exit_code != EXIT_OK else "pass"

    @property
    def verdict(self) -> str:
        """PASS, FAIL, INTERRUPTED, INCOMPLETE when no verdict could be reached (no check completed, unusable
        data) or a check was stopped by the safety net (``--allow-incomplete``: the findings' word), or REPORT
        ONLY when ``--fail-on never`` keeps errors or warnings from failing the run: a green PASS beside "1 error"
        would say the opposite of the report."""
        code = self.exit_code
        if code == EXIT_INTERRUPTED:
            return "INTERRUPTED"
        if code in (EXIT_SETUP, EXIT_INCOMPLETE):
            return "INCOMPLETE"
        if code != EXIT_OK:
            return "FAIL"
        if self.fail_on is FailOn.NEVER and any(f.severity >= Severity.WARNING for f in self.findings):
            return REPORT_ONLY
        return "PASS"

    def step_note(self) -> str | None:
        """Said when the training checks stepped on fewer samples than a batch holds (``max_step_work``), or
        scored fewer target positions (``scored_positions``)."""
        notes = []
        cut = self.meta.get("step_samples")
        if cut:
            notes.append(
                f"The sweep, fits and short run trained on {cut['used_samples']} of each batch's "
                f"{cut['batch_samples']} samples per step (a step on all of them costs more than max_step_work)."
            )
        scored = self.meta.get("scored_positions")
        if scored:
            notes.append(
                f"They scored about {scored['positions']} of each batch's {scored['batch_positions']} target positions "
                f"per step (the output layer '{scored['head']}' is most of a step's work; the recurrent layers run "
                "over every position): scored_positions."
            )
        cuts = self.meta.get("work_cuts")
        if cuts:
            loops = "; ".join(
                f"{check}: {cut['loop']} {cut['asked']} -> {cut['given']} steps"
                for check, listed in cuts.items()
                for cut in listed
            )
            notes.append(f"Fewer steps than configured, to stay within max_check_work: {loops}.")
        return " ".join(notes) or None

    def incomplete_note(self) -> str | None:
        """Said when the safety net stopped checks: which ones, and what to give them to finish."""
        stopped = self.timed_out_checks
        if not stopped:
            return None
        allowed = " (allowed by --allow-incomplete)" if self.allow_incomplete else ""
        lines = [f"{c.name}: {c.remedy}" for c in stopped]
        return f"Incomplete{allowed}: stopped by the check_timeout safety net before a verdict. " + "; ".join(lines)

    def script_note(self) -> str | None:
        """What a diagnosed script was seen to train, and what its start-up and its redirected writes cost."""
        script = self.meta.get("script")
        if not script:
            return None
        modules = ", ".join(f"{name} ({kind})" for name, kind in (script.get("modules") or {}).items())
        parts = [
            f"The script trains {modules or 'its model'} with {script.get('optimizer')}, loss {script.get('loss')}"
        ]
        parts.append(
            f"start-up {script.get('startup_s', 0):.1f} s, {script.get('steps_observed', 0)} steps observed, "
            f"{script.get('steps_run', 0)} run"
        )
        if script.get("not_replayable"):
            parts.append(f"its forward pass is not replayed ({script['not_replayable']})")
        written = script.get("redirected_writes") or []
        if written:
            shown = ", ".join(written[:3]) + (f" and {len(written) - 3} more" if len(written) > 3 else "")
            parts.append(f"its writes to {shown} went to a temporary folder")
        return "; ".join(parts) + "."

    def summary(self) -> str:
        """``1 error · 2 warnings · 0 info``; says when findings do not fail the run and checks did not finish."""
        counts = self.counts()
        text = " · ".join(_plural(counts[label], label) for label in ("error", "warning", "info"))
        failing = {id(f) for f in self.failing_findings}
        if any(f.severity >= Severity.WARNING and id(f) not in failing for f in self.findings):
            text += f" (not failing: --fail-on {self.fail_on.value})"
        unfinished = self.unfinished_checks
        if unfinished:
            names = ", ".join(c.name for c in unfinished)
            text += f" · {_plural(len(unfinished), 'check')} did not finish ({names})"
        if self.checks and not self.completed_checks:
            text += " · no check completed"
        return text

    def groups(self) -> list[tuple[Finding, list[Finding]]]:
        """The ranked findings as a diagnosis: each root cause with the symptoms folded under it."""
        groups: list[tuple[Finding, list[Finding]]] = []
        roots: dict[str, list[Finding]] = {}
        for finding in self.findings:
            if finding.explained_by and finding.explained_by in roots:
                roots[finding.explained_by].append(finding)
            else:
                symptoms: list[Finding] = []
                roots.setdefault(finding.code, symptoms)
                groups.append((finding, symptoms if roots[finding.code] is symptoms else []))
        return groups

    def counts(self) -> dict[str, int]:
        out = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for finding in self.findings:
            out[finding.severity.label] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": REPORT_SCHEMA,
            "status": self.status,
            "verdict": self.verdict.lower(),
            "config": self.config,
            "device": self.device,
            "findings": [f.to_dict() for f in self.findings],
            "checks": [c.to_dict() for c in self.checks],
            "timing": self.timing.to_dict(),
            "task": to_jsonable(self.task),
        }
        if self.model:
            doc["model"] = to_jsonable(self.model)
        if self.notes:
            doc["notes"] = list(self.notes)
        if self.interrupted:
            doc["interrupted"] = True
        if self.unfinished_checks or (self.checks and not self.completed_checks):
            doc["incomplete"] = True
        if self.meta:
            doc["meta"] = {**to_jsonable(self.meta), "fail_on": self.fail_on.value, "exit_code": self.exit_code}
        return doc

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def _repr_html_(self) -> str:
        """Jupyter shows the HTML report (with its plots) when a Report is the last value of a cell; its style
        sheet applies inside the report's own element only."""
        from rnndoctor.render.html import render_fragment

        return render_fragment(self)

    def __str__(self) -> str:
        from rnndoctor.render.text import render

        return render(self)


def to_jsonable(value: Any) -> Any:
    """Turn evidence (which may hold numpy scalars, tuples, NaN) into strict JSON values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _finite_or_text(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return to_jsonable(item())
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return to_jsonable(tolist())
    return str(value)


def _finite_or_text(value: float) -> float | str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value

"""Diagnose a training history: train/validation loss (and accuracy) per epoch or per step.

Used by `rnndoctor curves LOG` on logs users already have (read by `rnndoctor.logs.training_logs`: CSV files,
Lightning's ``lightning_logs/version_N``, TensorBoard event files) and by the ``overfitting`` check on its own
short run. The judging is the curve rules' (RD401, RD502, RD505, RD601), each in its own module.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rnndoctor.core.catalogue import code_range, codes_matching, unmatched_code
from rnndoctor.core.findings import NO_DEVICE, CheckResult, CheckStatus, FailOn, Finding, Report, Timing
from rnndoctor.core.judging import judge
from rnndoctor.core.progress import ProgressListener, SilentProgress
from rnndoctor.core.ranking import rank
from rnndoctor.logs.names import looks_like
from rnndoctor.logs.training_logs import METRIC_LABELS, SUMMARY, History, read_history
from rnndoctor.logs.trends import CurveThresholds, present
from rnndoctor.setup.errors import SetupError

__all__ = ["CURVE_CODES", "CurveThresholds", "History", "diagnose_history", "judge_history", "read_history"]

CURVE_CODES = ("RD401", "RD502", "RD505", "RD601")
"""What a training history can show: non-finite loss, divergence or oscillation, a flat loss, overfitting."""


def judge_history(history: History, limits: CurveThresholds | None = None) -> list[Finding]:
    """Every finding the curve rules (`CURVE_CODES`) make of ``history``: overfitting (RD601), a flat loss
    (RD505), divergence and oscillation (RD502), NaN (RD401)."""
    return judge(history, asdict(limits or CurveThresholds()), CURVE_CODES)


def diagnose_history(
    path: str | Path,
    fail_on: FailOn = FailOn.ERROR,
    limits: CurveThresholds | None = None,
    *,
    select: tuple[str, ...] | list[str] = (),
    ignore: tuple[str, ...] | list[str] = (),
    progress: ProgressListener | None = None,
    train: str | None = None,
    val: str | None = None,
) -> Report:
    """The report of `rnndoctor curves`: findings from one training log. ``select``/``ignore`` take codes
    or prefixes as `rnndoctor check` does; ``progress`` is a progress listener (see `rnndoctor.core.progress`);
    ``train`` and ``val`` name the series to read as the training and validation loss (``--train``,
    ``--val``), where the log's names do not say it."""
    started = time.perf_counter()
    allowed = _allowed_codes(tuple(select), tuple(ignore), str(path))
    listener: ProgressListener = progress or SilentProgress()
    listener.started(1)
    try:
        listener.check_started("curves", f"reading {Path(path).name}")
        history = read_history(path, train=train, val=val)
        found = judge_history(history, limits)
        for finding in found:
            finding.check = "curves"
        findings = [f for f in found if f.code in allowed]
        result = CheckResult(
            "curves",
            CheckStatus.FOUND if findings else CheckStatus.PASSED,
            time.perf_counter() - started,
            _describe(history, path),
            {
                "points": len(history.epochs),
                "axis": history.axis,
                "read": dict(history.read),
                "series_read": list(history.read.values()),
                "series_not_read": list(history.unread),
                "plots": history_plots(history),
            },
        )
        left_out = [f.code for f in found if f.code not in allowed]
        if left_out:
            result.detail += f"; {', '.join(dict.fromkeys(left_out))} not reported (excluded by select/ignore)"
        listener.check_finished(result)
    finally:
        listener.finished()
    return Report(
        config=str(path),
        device=NO_DEVICE,
        findings=rank(findings),
        checks=[result],
        timing=Timing(total_seconds=time.perf_counter() - started),
        fail_on=fail_on,
        notes=_unread_notes(history),
    )


def _unread_notes(history: History) -> list[str]:
    """Said beside the verdict when the log holds a loss or accuracy that was not judged: a verdict on some of
    the series must not read as one on all of them."""
    missed = [name for name in history.unread if not name.endswith(SUMMARY) and looks_like(name)]
    if not missed:
        return []
    return [
        f"Judged {', '.join(history.read.values())} only; not read: {', '.join(missed)}. "
        "Name the series to judge with --train NAME and --val NAME."
    ]


def _allowed_codes(select: tuple[str, ...], ignore: tuple[str, ...], display: str) -> set[str]:
    """The curve codes left by ``select``/``ignore`` (the same rules as `rnndoctor check`)."""
    for option, codes in (("select", select), ("ignore", ignore)):
        missing = unmatched_code(codes)
        if missing:
            raise SetupError(f"{option} {missing}: matches no code ({code_range()})")
    wanted = codes_matching(select) if select else set(CURVE_CODES)
    allowed = (wanted - codes_matching(ignore)) & set(CURVE_CODES)
    if not allowed:
        raise SetupError(
            f"no curve rule can report the selected codes (select: {', '.join(select) or 'all'}; ignore: "
            f"{', '.join(ignore) or 'none'}); `rnndoctor curves` reports {', '.join(CURVE_CODES)}: nothing to judge",
            file=display,
        )
    return allowed


def _describe(history: History, path: str | Path) -> str:
    """The check's detail line: how much was read, from where, under which names."""
    unit = "epochs" if history.axis == "epoch" else "steps"
    read = ", ".join(f"{name} ({METRIC_LABELS[metric]})" for metric, name in history.read.items())
    unread = f"not read: {', '.join(history.unread_described())}" if history.unread else f"no other {history.kind}s"
    return "; ".join(
        [f"{len(history.epochs)} {unit} from {Path(path).name}", *history.notes, f"{history.kind}s {read}", unread]
    )


def history_plots(history: History) -> list[dict[str, Any]]:
    """The loss (and accuracy) curves, train and validation overlaid in one plot each: ``series`` holds
    every line with its label, which every renderer draws; ``y`` repeats the first line (training, or
    validation when there is no training series) for readers of the JSON that expect a single line."""
    from rnndoctor.render.plots import plot

    figures = []
    for quantity, train, val in (
        ("loss", history.train_loss, history.val_loss),
        ("accuracy", history.train_acc, history.val_acc),
    ):
        lines = [
            (label, values) for label, values in (("train", train), ("validation", val)) if len(present(values)) >= 2
        ]
        if not lines:
            continue
        figures.append(
            plot(
                f"{' and '.join(label for label, _ in lines)} {quantity} per {history.axis}",
                history.epochs,
                lines[0][1],
                x_label=history.axis,
                y_label=quantity,
                series=lines,
            )
        )
    return figures

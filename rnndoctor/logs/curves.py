"""Diagnose a training history: train/validation loss (and accuracy) per epoch or per step.

Used by `rnndoctor curves LOG` on logs users already have (read by `rnndoctor.logs.training_logs`: CSV files,
Lightning's ``lightning_logs/version_N``, TensorBoard event files) and by the ``overfitting`` check on its own
short run. Judging is pure: numbers in, findings out.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnndoctor.core.catalogue import Rule, Wording, code_range, codes_matching, get_rule, snippet, unmatched_code
from rnndoctor.core.findings import CheckResult, CheckStatus, FailOn, Finding, Report, Severity, Timing
from rnndoctor.logs.training_logs import METRIC_LABELS, History, read_history
from rnndoctor.setup.errors import SetupError

if TYPE_CHECKING:
    from rnndoctor.core.progress import ProgressListener

__all__ = ["CURVE_CODES", "CurveThresholds", "History", "diagnose_history", "judge_history", "read_history"]

CURVE_CODES = ("RD401", "RD502", "RD505", "RD601")
"""What a training history can show: non-finite loss, divergence or oscillation, a flat loss, overfitting."""


@dataclass
class CurveThresholds:
    overfit_rise: float = 0.1
    """RD601: validation loss this far above its minimum (relative) while training loss does not rise."""
    accuracy_gap: float = 0.15
    """RD601: train accuracy above validation accuracy by this much at the end."""
    flat_change: float = 0.01
    """RD505: relative change of the training loss over the whole history below this."""
    divergence_rise: float = 0.5
    """RD502: the (smoothed) training loss ends this far above its minimum (relative to the minimum)..."""
    divergence_giveback: float = 0.25
    """...having climbed back at least this share of what it fell before the minimum (a wiggle at a low
    level gives back a sliver of the fall)..."""
    noise_multiple: float = 4.0
    """...by at least this many times the epoch-to-epoch noise of the curve."""
    oscillation_share: float = 0.6
    """RD502: share of epoch-to-epoch changes that reverse direction..."""
    oscillation_amplitude: float = 0.1
    """...with a median relative swing above this..."""
    oscillation_range_share: float = 0.25
    """...that is also at least this share of the curve's whole range (noise around a loss that has fallen
    far is not a rate that overshoots)."""


SMOOTHING_WINDOW = 5
"""Longest trailing mean the judges compare (a long, noisy history gets one point of smoothing per 8)."""


def smoothed(values: list[float]) -> list[float]:
    """A trailing mean over up to SMOOTHING_WINDOW points, so that one noisy epoch at the end is not the
    trend; short histories (under 16 points) are left as they are."""
    window = max(1, min(SMOOTHING_WINDOW, len(values) // 8))
    return [statistics.fmean(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]


def noise_level(values: list[float]) -> float:
    """The typical epoch-to-epoch wiggle around the trend: the median absolute second difference, scaled to
    a standard deviation (it is sqrt(6) sigma for white noise, whose median absolute value is 0.674 of that);
    zero below 8 points, too few to tell noise from the curve's own bend."""
    if len(values) < 8:
        return 0.0
    bends = [abs(a - 2 * b + c) for a, b, c in zip(values, values[1:], values[2:], strict=False)]
    return statistics.median(bends) / (0.674 * math.sqrt(6))


def _present(values: list[float | None]) -> list[tuple[int, float]]:
    return [(i, v) for i, v in enumerate(values) if v is not None]


def judge_history(history: History, limits: CurveThresholds, check: str = "curves") -> list[Finding]:
    """Overfitting (RD601), a flat loss (RD505), divergence and oscillation (RD502), NaN (RD401)."""
    findings: list[Finding] = []
    train = _present(history.train_loss)
    val = _present(history.val_loss)
    non_finite = [history.epochs[i] for i, v in train + val if not math.isfinite(v)]
    if non_finite:
        findings.append(
            get_rule("RD401").finding(
                {"first_epoch": non_finite[0], "epochs_affected": len(non_finite)}, variant="curve", check=check
            )
        )
        train = [(i, v) for i, v in train if math.isfinite(v)]
        val = [(i, v) for i, v in val if math.isfinite(v)]
    findings.extend(_overfitting(history, train, val, limits, check))
    if len(train) >= 3:
        findings.extend(_train_dynamics(history, train, limits, check))
    return findings


def _overfitting(
    history: History, train: list[tuple[int, float]], val: list[tuple[int, float]], limits: CurveThresholds, check: str
) -> list[Finding]:
    if len(val) < 3:
        return []
    val_trend = list(zip([i for i, _ in val], smoothed([v for _, v in val]), strict=True))
    best_index, best_val = min(val_trend, key=lambda iv: iv[1])
    last_index, last_val = val_trend[-1]
    rise = (last_val - best_val) / max(abs(best_val), 1e-12)
    train_trend = list(zip([i for i, _ in train], smoothed([v for _, v in train]), strict=True))
    train_at_best = next((v for i, v in train_trend if i >= best_index), None)
    train_last = train_trend[-1][1] if train_trend else None
    # Training loss that keeps falling, or only wiggles at the level it reached, is the overfitting pattern.
    tolerance = noise_level([v for _, v in train])
    train_falling = train_at_best is not None and train_last is not None and train_last <= train_at_best + tolerance
    accuracy = _present(history.train_acc), _present(history.val_acc)
    gap = accuracy[0][-1][1] - accuracy[1][-1][1] if accuracy[0] and accuracy[1] else None
    above_train = train_last is not None and last_val > train_last
    loss_says = rise >= limits.overfit_rise and train_falling and last_index > best_index and above_train
    accuracy_says = gap is not None and gap >= limits.accuracy_gap
    if not (loss_says or accuracy_says):
        return []
    evidence = {
        "best_epoch": history.epochs[best_index],
        "best_val_loss": best_val,
        "last_val_loss": last_val,
        "val_rise": rise,
        "train_loss_at_best": train_at_best,
        "last_train_loss": train_last,
        "accuracy_gap": gap,
    }
    opening = (
        f"In a short run of {len(history.epochs)} epochs over the sampled training batches, validation"
        if history.source.startswith("short")
        else "Validation"
    )
    variant = None if loss_says else "accuracy_gap"
    words = {"opening": opening, "axis": history.axis}
    return [get_rule("RD601").finding(evidence, words, variant=variant, check=check)]


def _train_dynamics(
    history: History, train: list[tuple[int, float]], limits: CurveThresholds, check: str
) -> list[Finding]:
    values = [v for _, v in train]
    first, last, lowest = values[0], values[-1], min(values)
    change = abs(first - last) / max(abs(first), 1e-12)
    findings = []
    if change < limits.flat_change and max(values) - lowest < limits.flat_change * max(abs(first), 1e-12):
        chance = next(
            (
                f" (ln {c} = {math.log(c):.3f}: chance level for {c} classes)"
                for c in range(2, 1001)
                if abs(math.log(c) - last) < 0.005
            ),
            "",
        )
        findings.append(
            get_rule("RD505").finding(
                {"first_loss": first, "last_loss": last, "epochs": len(values), "relative_change": change},
                {"chance": chance},
                variant="curve",
                check=check,
            )
        )
        return findings
    diverging = _divergence(values, limits)
    deltas = [b - a for a, b in itertools.pairwise(values)]
    reversals = sum(1 for a, b in itertools.pairwise(deltas) if a * b < 0)
    share = reversals / max(len(deltas) - 1, 1)
    swings = sorted(abs(d) / max(abs(v), 1e-12) for d, v in zip(deltas, values, strict=False))
    swing = swings[len(swings) // 2] if swings else 0.0
    span = max(values) - lowest
    swing_of_range = statistics.median(abs(d) for d in deltas) / span if deltas and span > 0 else 0.0
    if diverging is not None:
        findings.append(get_rule("RD502").finding(diverging, variant="curve_diverging", check=check))
    elif (
        len(deltas) >= 4
        and share >= limits.oscillation_share
        and swing >= limits.oscillation_amplitude
        and swing_of_range >= limits.oscillation_range_share
    ):
        findings.append(
            get_rule("RD502").finding(
                {
                    "reversal_share": share,
                    "median_swing": swing,
                    "swing_of_range": swing_of_range,
                    "epochs": len(values),
                },
                variant="curve_oscillating",
                severity=Severity.WARNING,
                check=check,
            )
        )
    return findings


def _divergence(values: list[float], limits: CurveThresholds) -> dict[str, float | None] | None:
    """Evidence that the training loss climbs back up after its minimum, judged on the smoothed curve: a
    rise large relative to the minimum, to the fall before it and to the noise. A loss that wiggles at the
    low level it reached, or ends one noisy epoch up, is not diverging."""
    trend = smoothed(values)
    lowest_at = min(range(len(trend)), key=trend.__getitem__)
    if lowest_at == len(trend) - 1:
        return None
    lowest, last = trend[lowest_at], trend[-1]
    rise = last - lowest
    fall = max(trend[: lowest_at + 1]) - lowest
    noise = noise_level(values)
    relative_rise = rise / max(abs(lowest), 1e-12)
    given_back = rise / fall if fall > 0 else math.inf
    if relative_rise < limits.divergence_rise or given_back < limits.divergence_giveback:
        return None
    if rise < limits.noise_multiple * noise:
        return None
    return {
        "lowest_loss": lowest,
        "last_loss": last,
        "rise": relative_rise,
        "share_of_fall_given_back": given_back if math.isfinite(given_back) else None,
        "noise": noise,
    }


def diagnose_history(
    path: str | Path,
    fail_on: FailOn = FailOn.ERROR,
    limits: CurveThresholds | None = None,
    *,
    select: tuple[str, ...] | list[str] = (),
    ignore: tuple[str, ...] | list[str] = (),
    progress: ProgressListener | None = None,
) -> Report:
    """The report of `rnndoctor curves`: findings from one training log. ``select``/``ignore`` take codes
    or prefixes as `rnndoctor check` does; ``progress`` is a progress listener (see `rnndoctor.core.engine`)."""
    from rnndoctor.core.progress import SilentProgress
    from rnndoctor.core.ranking import rank

    started = time.perf_counter()
    allowed = _allowed_codes(tuple(select), tuple(ignore), str(path))
    listener: ProgressListener = progress or SilentProgress()
    listener.started(1)
    try:
        listener.check_started("curves", f"reading {Path(path).name}")
        history = read_history(path)
        found = judge_history(history, limits or CurveThresholds())
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
        device="none",
        findings=rank(findings),
        checks=[result],
        timing=Timing(total_seconds=time.perf_counter() - started),
        fail_on=fail_on,
    )


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
    return "; ".join(
        [f"{len(history.epochs)} {unit} from {Path(path).name}", *history.notes, f"{history.kind}s {read}"]
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
            (label, values) for label, values in (("train", train), ("validation", val)) if len(_present(values)) >= 2
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


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD601",
        checks=("overfitting",),
        message=(
            "{opening} loss was lowest at {axis} {best_epoch:g} ({best_val_loss:.4g}) and has risen {val_rise:.0%} "
            "since (to {last_val_loss:.4g}) while training loss kept falling ({train_loss_at_best:.4g} -> "
            "{last_train_loss:.4g}). The model is memorizing the training set instead of learning what generalizes."
        ),
        remedy=(
            "Stop at the best validation {axis} ({axis} {best_epoch:g}) and regularize: dropout between layers, "
            "weight decay, a smaller model or more data:\n\n```python\n"
            "self.rnn = nn.LSTM(input_size, hidden, num_layers=2, dropout=0.3, batch_first=True)\n"
            "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)\n```"
        ),
        variants={
            "accuracy_gap": Wording(
                message=(
                    "Training accuracy ends {accuracy_gap:.0%} above validation accuracy. The model is memorizing "
                    "the training set instead of learning what generalizes."
                )
            ),
        },
        title="overfitting: train and validation diverge",
        severity=Severity.WARNING,
        what=(
            "Runs a short train/validation loop (a few epochs over the sampled training batches, validation loss "
            "and accuracy after each) and reports when validation loss has risen at least 10% above its minimum "
            "while training loss keeps falling, or training accuracy ends 15 points above validation accuracy. "
            "`rnndoctor curves LOG` applies the same rules to a real training history (a CSV, a Lightning "
            "`lightning_logs` folder or TensorBoard event files)."
        ),
        why=(
            "The model is fitting details specific to the training samples (its capacity is large for the "
            "amount of data, regularization is missing, or training runs too long). Those details do not "
            "carry over, so further training improves the training loss at the expense of validation."
        ),
        symptoms=(
            "Training accuracy near 100% with validation far below; validation loss turns upward after a few "
            "epochs while training loss keeps falling."
        ),
        fix=(
            "Add regularization (dropout before the head, weight decay), reduce the hidden size, get more "
            "data or augment it, and stop on validation loss."
        ),
        before=snippet(
            """
            self.rnn = nn.LSTM(32, 1024, num_layers=3, batch_first=True)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            for epoch in range(200):
                train_one_epoch(model, train_loader, optimizer)
            """
        ),
        after=snippet(
            """
            self.rnn = nn.LSTM(32, 256, num_layers=2, dropout=0.3, batch_first=True)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
            best = float("inf")
            for epoch in range(200):
                train_one_epoch(model, train_loader, optimizer)
                val_loss = evaluate(model, val_loader)
                if val_loss >= best:
                    break                             # validation stopped improving
                best = val_loss
            """
        ),
    ),
)

"""RD502: the configured learning rate is at or beyond divergence, or far past the loss minimum."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import remedy
from rnndoctor.logs.training_logs import History
from rnndoctor.logs.trends import CurveThresholds, finite_curves, is_flat, noise_level, smoothed
from rnndoctor.measurements.dynamics import Sweep
from rnndoctor.rules.dynamics.rd501_learning_rate_too_low import (
    decades_too_low,
    learning_rate,
    sweep_evidence,
    sweep_words,
)
from rnndoctor.runtime.lr_heuristics import MIN_RELATIVE_DROP

RULE = Rule(
    code="RD502",
    options=(
        Option(
            "too_high_factor",
            3.0,
            "RD502: configured rate more than this factor above the rate with the lowest loss",
            meaning="The configured rate is this factor above the rate with the lowest loss (or at/after divergence).",
            guards=("RD502",),
        ),
    ),
    checks=("lr_sweep",),
    message=(
        "The configured learning rate {configured_lr:.2g} ({optimizer}) sits at or beyond {diverged_at:.2g}, "
        "where the loss diverged in the range test. Training will oscillate, stall at a high loss or produce "
        "NaN.{suggests}"
    ),
    remedy=(
        "Use the suggested rate:\n\n```python\noptimizer = torch.optim.{optimizer}(model.parameters(), "
        "{advice})\n```\n\nThe learning-rate curve is in the report's plots (`--plots DIR` for PNGs). To keep a "
        "high rate on a recurrent net, clip the gradient norm between backward and step "
        "(`torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`): the sweep trains with your own "
        "train_step, so clipping there is measured."
    ),
    variants={
        "past_minimum": Wording(
            message=(
                "The configured learning rate {configured_lr:.2g} ({optimizer}) sits {decades:.1f} decades above "
                "the rate with the lowest loss ({lowest_loss_lr:.2g}), where the loss rises again. Training will "
                "oscillate, stall at a high loss or produce NaN.{suggests}"
            ),
        ),
        "curve_diverging": Wording(
            message=(
                "The training loss fell to {lowest_loss:.4g} and then rose to {last_loss:.4g} ({rise:.0%} above "
                "its minimum): training diverges, the typical sign of a learning rate too high for the later stage."
            ),
            remedy="Lower the learning rate (or decay it), and clip gradients.",
        ),
        "curve_oscillating": Wording(
            message=(
                "The training loss oscillates: {reversal_share:.0%} of epoch-to-epoch changes reverse direction, "
                "with a median swing of {median_swing:.0%}. Steps overshoot the minimum: the learning rate is too "
                "high."
            ),
            remedy="Lower the learning rate by 3-10x or add a decaying schedule.",
        ),
    },
    title="learning rate too high",
    severity=Severity.ERROR,
    what=(
        "Uses the same range test and reports when the configured rate is at or beyond the rate where the "
        "loss diverged, or more than `too_high_factor` (3x) above the rate with the lowest loss, where the "
        "loss climbs again."
    ),
    why=(
        "Each step overshoots the minimum along the steep directions of the loss surface, so the loss "
        "rises instead of falling. In recurrent models large updates can also push the recurrent weights "
        "into the unstable regime, where gradients explode."
    ),
    symptoms=(
        "Loss jumps around or increases; nan after a few iterations; accuracy oscillates, or the model "
        "collapses to predicting one class."
    ),
    fix=(
        "Lower the learning rate to about the suggested value, and add a warm-up and gradient clipping for stability."
    ),
    before=snippet(
        """
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        loss.backward()
        optimizer.step()
        """
    ),
    after=snippet(
        """
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)   # near suggested_lr
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        """
    ),
    explains=("RD405", "RD503", "RD504", "RD507"),
)


@judges(RULE, Sweep)
def too_high(sweep: Sweep, options: Mapping[str, Any]) -> list[Finding]:
    """The configured rate is at or beyond divergence, or more than ``too_high_factor`` above the rate with
    the lowest loss (and not too low, RD501's verdict). No verdict when the sweep shows no learning, unless the
    configured rate is at or beyond a rate where either range test diverged: training there blows up whatever
    else is wrong."""
    lr = sweep.configured_lr
    divergence = sweep.divergence
    beyond_divergence = divergence is not None and lr >= divergence
    if beyond_divergence:
        evidence = {**sweep_evidence(sweep, options), "diverged_at": divergence}
        return [RULE.finding(evidence, sweep_words(sweep), confidence=0.9)]
    if not sweep.shows_learning(MIN_RELATIVE_DROP) or decades_too_low(sweep, options) is not None:
        return []
    lr_min = sweep.lowest[0]
    past_minimum = math.isfinite(lr_min) and lr > lr_min * float(options["too_high_factor"])
    if past_minimum:
        words = {**sweep_words(sweep), "decades": math.log10(lr / lr_min)}
        return [RULE.finding(sweep_evidence(sweep, options), words, variant="past_minimum", confidence=0.7)]
    return []


@judges(RULE, History)
def diverging_curve(history: History, options: Mapping[str, Any]) -> list[Finding]:
    """A training loss that climbs back up after its minimum, or oscillates (a flat loss is RD505's)."""
    limits = CurveThresholds.from_options(options)
    values = [v for _, v in finite_curves(history)[0]]
    if len(values) < 3 or is_flat(values, limits.flat_change):
        return []
    diverging = _divergence(values, limits)
    deltas = [b - a for a, b in itertools.pairwise(values)]
    reversals = sum(1 for a, b in itertools.pairwise(deltas) if a * b < 0)
    share = reversals / max(len(deltas) - 1, 1)
    swings = sorted(abs(d) / max(abs(v), 1e-12) for d, v in zip(deltas, values, strict=False))
    swing = swings[len(swings) // 2] if swings else 0.0
    span = max(values) - min(values)
    swing_of_range = statistics.median(abs(d) for d in deltas) / span if deltas and span > 0 else 0.0
    if diverging is not None:
        return [RULE.finding(diverging, variant="curve_diverging")]
    elif (
        len(deltas) >= 4
        and share >= limits.oscillation_share
        and swing >= limits.oscillation_amplitude
        and swing_of_range >= limits.oscillation_range_share
    ):
        return [
            RULE.finding(
                {
                    "reversal_share": share,
                    "median_swing": swing,
                    "swing_of_range": swing_of_range,
                    "epochs": len(values),
                },
                variant="curve_oscillating",
                severity=Severity.WARNING,
            )
        ]
    return []


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


remedy(RULE)(learning_rate)

"""RD405: one optimizer step changes the weights by far too much or far too little."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import remedy
from rnndoctor.measurements.gradients import UpdateStats
from rnndoctor.rules.dynamics.rd501_learning_rate_too_low import learning_rate

RULE = Rule(
    code="RD405",
    options=(
        Option(
            "min_update_ratio",
            1e-06,
            "RD405: median |delta w| / |w| of one optimizer step below this is too small",
            meaning="Median ‖Δw‖/‖w‖ of one optimizer step below which updates are negligible.",
            guards=("RD405",),
        ),
        Option(
            "max_update_ratio",
            0.1,
            "RD405: ...above this too large",
            meaning="...and above which each step rewrites the weights.",
            guards=("RD405",),
        ),
    ),
    checks=("gradients",),
    message=(
        "One {optimizer} step{at_lr} changes the weights by a median of {median_ratio:.2g} of their norm "
        "(healthy is around 1e-3, between {low:g} and {high:g}): too large; each step rewrites a sizeable part "
        "of the weights: training is unstable or diverges."
    ),
    remedy=(
        "Adjust the learning rate by the factor that brings the ratio near 1e-3, then confirm with the "
        "learning-rate sweep:\n\n```python\noptimizer = torch.optim.{optimizer}(model.parameters(), "
        "lr={suggested:.1g})\n```"
    ),
    variants={
        "too_small": Wording(
            message=(
                "One {optimizer} step{at_lr} changes the weights by a median of {median_ratio:.2g} of their norm "
                "(healthy is around 1e-3, between {low:g} and {high:g}): too small; each step changes the "
                "weights by a negligible fraction: the loss will barely move."
            )
        )
    },
    title="update-to-weight ratio out of range",
    severity=Severity.WARNING,
    what=(
        "Takes one real step with the configured optimizer and learning rate after a backward pass (then "
        "restores everything) and computes, for each weight matrix, the norm of the change divided by the "
        "norm of the weights; it reports when the median ratio is outside 1e-6 to 0.1 (healthy is about "
        "1e-3)."
    ),
    why=(
        "The ratio says how much one step changes a weight compared with its size. Far above 1e-3 the "
        "weights are largely rewritten at every step and training is noisy or unstable; far below, they "
        "barely move and training crawls. Ratios that differ widely between layers mean one learning "
        "rate fits only some of them."
    ),
    symptoms=(
        "Too high: the loss jumps around or diverges. Too low: the loss falls very slowly and some "
        "layers' weights hardly change at all."
    ),
    fix=(
        "Scale the learning rate so typical ratios land near 1e-3, and give layers with very different "
        "ratios their own learning rate through parameter groups."
    ),
    before=snippet(
        """
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)     # |dw| / |w| ~ 0.3 per step
        """
    ),
    after=snippet(
        """
        optimizer = torch.optim.Adam(
            [
                {"params": model.embed.parameters(), "lr": 1e-2},   # sparse rows, updated rarely
                {"params": model.rnn.parameters()},
                {"params": model.head.parameters()},
            ],
            lr=1e-3,
        )
        """
    ),
)


@judges(RULE, UpdateStats)
def update_ratio(stats: UpdateStats, options: Mapping[str, Any]) -> list[Finding]:
    """The median ||delta w|| / ||w|| of one real optimizer step outside [``min_update_ratio``,
    ``max_update_ratio``]."""
    low, high = float(options["min_update_ratio"]), float(options["max_update_ratio"])
    values = sorted(v for v in stats.ratios.values() if math.isfinite(v))
    if not values:
        return []
    median = values[len(values) // 2]
    if low <= median <= high:
        return []
    at_lr = f" at lr={stats.lr:g}" if stats.lr is not None else ""
    current = stats.lr or 1e-3
    suggested = current * 1e-3 / median if median > 0 else current * 1e3
    evidence = {
        "median_ratio": median,
        "min_ratio": values[0],
        "max_ratio": values[-1],
        "lr": stats.lr,
        "optimizer": stats.optimizer,
    }
    words = {"at_lr": at_lr, "low": low, "high": high, "suggested": suggested}
    return [RULE.finding(evidence, words, variant=None if median > high else "too_small")]


remedy(RULE)(learning_rate)

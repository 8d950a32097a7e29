"""RD107: input features that never change over the sampled positions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.data import FeatureStats

RULE = Rule(
    code="RD107",
    options=(
        Option(
            "constant_tolerance",
            0.0,
            "RD107: a feature whose standard deviation is at most this is constant",
            meaning="A feature whose standard deviation is at most this is constant.",
            guards=("RD107",),
        ),
    ),
    checks=("inputs",),
    message=(
        "{count} of {features} input features never change over {positions} sampled positions: {shown}. They "
        "carry no information{harm}"
    ),
    remedy=(
        "Drop the constant columns, or fix the step that fills them:\n\n"
        "```python\nkeep = train_x.flatten(0, 1).std(dim=0) > 0\nx = x[..., keep]\n```"
    ),
    title="constant input features",
    severity=Severity.INFO,
    what=(
        "Computes the standard deviation of each input feature across samples and time steps of the "
        "sampled batches and lists the features whose spread is zero, or within a tiny tolerance of it."
    ),
    why=(
        "A constant feature carries no information; its input weights only act as an extra bias. It does "
        "no harm by itself, but it often points to a bug upstream, such as a column filled with a "
        "default value or zeroed during preprocessing, and standardizing it divides by a zero standard "
        "deviation."
    ),
    symptoms=(
        "Usually nothing visible; sometimes NaN appears right after normalization, or the model is "
        "weaker than expected because a feature that should carry signal is empty."
    ),
    fix=(
        "Find out why the feature is constant and fix its source, or drop it; guard the normalization "
        "against a zero standard deviation."
    ),
    before=snippet(
        """
        mean, std = x_train.mean(dim=(0, 1)), x_train.std(dim=(0, 1))
        x_train = (x_train - mean) / std              # std is 0 for a constant column -> NaN
        """
    ),
    after=snippet(
        """
        mean, std = x_train.mean(dim=(0, 1)), x_train.std(dim=(0, 1))
        keep = std > 0                                # drop features that never change
        x_train = (x_train[..., keep] - mean[keep]) / std[keep]
        """
    ),
)


@judges(RULE, FeatureStats)
def constant_features(stats: FeatureStats, options: Mapping[str, Any]) -> list[Finding]:
    """Features whose standard deviation over the sample is at most ``constant_tolerance``."""
    tolerance = float(options["constant_tolerance"])
    if stats.count < 2:
        return []
    constant = [i for i, s in enumerate(stats.std) if s <= tolerance]
    if not constant:
        return []
    values = [stats.mean[i] for i in constant]
    all_constant = len(constant) == len(stats.std)
    shown = ", ".join(f"{i} (= {v:.4g})" for i, v in list(zip(constant, values, strict=False))[:8])
    more = f" and {len(constant) - 8} more" if len(constant) > 8 else ""
    harm = (
        ": every input is the same, so the model cannot learn anything from it."
        if all_constant
        else " and only waste parameters; if they should vary, the preprocessing lost them."
    )
    evidence = {"constant_features": constant, "values": values, "features": len(stats.std), "positions": stats.count}
    return [
        RULE.finding(
            evidence,
            {"count": len(constant), "shown": shown + more, "harm": harm},
            severity=Severity.WARNING if all_constant else None,
            explains=("RD506",) if all_constant else (),
        )
    ]

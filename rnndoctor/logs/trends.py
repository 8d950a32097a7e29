"""Reading the shape of a training curve: smoothing, noise, flatness. Shared by the rules that judge
training histories (RD401, RD502, RD505, RD601), pure numbers in and out."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from rnndoctor.logs.training_logs import History


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

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CurveThresholds:
        """The thresholds a check sets in its options (``overfit_rise``...), the defaults for the rest."""
        return cls(**{f.name: float(options[f.name]) for f in fields(cls) if f.name in options})


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


def present(values: list[float | None]) -> list[tuple[int, float]]:
    return [(i, v) for i, v in enumerate(values) if v is not None]


def finite_curves(history: History) -> tuple[list[tuple[int, float]], list[tuple[int, float]], list[float]]:
    """The logged training and validation losses without their non-finite values, and the epochs (or
    steps) where a loss was NaN or infinite."""
    train, val = present(history.train_loss), present(history.val_loss)
    non_finite = [history.epochs[i] for i, v in train + val if not math.isfinite(v)]
    return (
        [(i, v) for i, v in train if math.isfinite(v)],
        [(i, v) for i, v in val if math.isfinite(v)],
        non_finite,
    )


def is_flat(values: list[float], flat_change: float) -> bool:
    """The loss changes by less than ``flat_change`` (relative to its start) over the whole history, and
    never moves further than that from its lowest value."""
    first, last, lowest = values[0], values[-1], min(values)
    change = abs(first - last) / max(abs(first), 1e-12)
    return change < flat_change and max(values) - lowest < flat_change * max(abs(first), 1e-12)

"""The candidate rules rnndoctor's learning-rate suggestion was chosen from, scored on the selection tasks only.

Each candidate reads rnndoctor's range-test curve (the smoothed loss on a fixed yardstick batch after each
step) and returns a rate or None. `python bench/lr_heuristics.py --split selection` scores them all; the one with
the lowest median regret on the selection tasks (ties: mean decades) among the rules without a fitted
constant is `rnndoctor.runtime.lr_heuristics.suggest`. Rules scaled by a factor are listed to show how much a constant
fitted on eight tasks would buy; a factor tuned that way is not trusted to carry over. The evaluation tasks
never enter that choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rnndoctor.runtime import lr_heuristics

Candidate = Callable[[Sequence[float], Sequence[float]], "float | None"]


def _curve(lrs: Sequence[float], losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.log10(np.asarray(lrs, dtype=float))
    y = np.asarray(losses, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def minimum_over(factor: float) -> Candidate:
    def rule(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
        x, y = _curve(lrs, losses)
        if len(y) <= lr_heuristics.SKIP_START:
            return None
        return float(10 ** x[lr_heuristics.SKIP_START + int(np.argmin(y[lr_heuristics.SKIP_START :]))]) / factor

    return rule


def onset_to_minimum(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """Halfway (in log-rate) between where the loss has made a tenth of its fall and the lowest point."""
    x, y = _curve(lrs, losses)
    if len(y) <= lr_heuristics.SKIP_START + 2:
        return None
    lowest = lr_heuristics.SKIP_START + int(np.argmin(y[lr_heuristics.SKIP_START :]))
    start = float(np.median(y[: lr_heuristics.SKIP_START]))
    fallen = np.nonzero(y[: lowest + 1] <= start - 0.1 * (start - y[lowest]))[0]
    onset = int(fallen[0]) if len(fallen) else lowest
    return float(10 ** ((x[onset] + x[lowest]) / 2))


def valley_floor_entry(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """The first rate whose loss is within 10% of the total fall above the lowest loss."""
    x, y = _curve(lrs, losses)
    if len(y) <= lr_heuristics.SKIP_START + 2:
        return None
    lowest = lr_heuristics.SKIP_START + int(np.argmin(y[lr_heuristics.SKIP_START :]))
    start = float(np.median(y[: lr_heuristics.SKIP_START]))
    near = np.nonzero(y[: lowest + 1] <= y[lowest] + 0.1 * (start - y[lowest]))[0]
    return float(10 ** x[int(near[0])]) if len(near) else None


def scaled(rule: Candidate, factor: float) -> Candidate:
    def scaled_rule(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
        suggestion = rule(lrs, losses)
        return suggestion * factor if suggestion is not None else None

    return scaled_rule


def geometric_mean(first: Candidate, second: Candidate) -> Candidate:
    def rule(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
        a, b = first(lrs, losses), second(lrs, losses)
        if a is None or b is None:
            return a or b
        return float(np.sqrt(a * b))

    return rule


CANDIDATES: dict[str, Candidate] = {
    "steepest before minimum": lr_heuristics.steepest_before_minimum,
    "steepest": lr_heuristics.steepest,
    "valley": lr_heuristics.valley,
    "minimum/2": minimum_over(2),
    "minimum/3": minimum_over(3),
    "minimum/5": minimum_over(5),
    "minimum/10": minimum_over(10),
    "onset-to-minimum midpoint": onset_to_minimum,
    "valley-floor entry": valley_floor_entry,
    "steepest-before-minimum x minimum/3": geometric_mean(lr_heuristics.steepest_before_minimum, minimum_over(3)),
    "steepest-before-minimum x minimum": geometric_mean(lr_heuristics.steepest_before_minimum, minimum_over(1)),
    "fitted: steepest before minimum x0.7": scaled(lr_heuristics.steepest_before_minimum, 0.7),
    "fitted: steepest before minimum x1.4": scaled(lr_heuristics.steepest_before_minimum, 1.4),
}
"""Candidate rules by name, scored on the selection tasks (the rnndoctor column is the shipped rule as a whole,
with its fallback when the curve shows no clear fall)."""

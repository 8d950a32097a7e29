"""Heuristics that turn a learning-rate range test (loss per learning rate) into a suggested learning rate.

Pure numpy, so the benchmark can score every heuristic on the same sweeps. `suggest` is the one rnndoctor
uses; the others are the ones users know from other tools, kept for comparison:

- ``steepest``: where the smoothed loss falls fastest per step (torch-lr-finder, Lightning);
- ``valley``: two thirds of the way down the longest stretch of falling loss (fastai's default);
- ``minimum_tenth``: a tenth of the learning rate at the lowest loss (fastai's "minimum").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Heuristic = Callable[[Sequence[float], Sequence[float]], "float | None"]

SKIP_START = 5
"""Leading points ignored by the heuristics: the smoothed loss is still warming up there."""


def _usable(lrs: Sequence[float], losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.log10(np.asarray(lrs, dtype=float))
    y = np.asarray(losses, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def steepest(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    x, y = _usable(lrs, losses)
    if len(y) < SKIP_START + 3:
        return None
    slope = np.gradient(y[SKIP_START:], x[SKIP_START:])
    return float(10 ** x[SKIP_START + int(np.argmin(slope))])


def valley(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    x, y = _usable(lrs, losses)
    n = len(y)
    if n < 3:
        return None
    # longest strictly decreasing subsequence ending at each point, and where it starts
    length = [1] * n
    start = list(range(n))
    for i in range(1, n):
        for j in range(i):
            if y[i] < y[j] and length[j] + 1 > length[i]:
                length[i], start[i] = length[j] + 1, start[j]
    end = int(np.argmax(length))
    first = start[end]
    index = first + (2 * (end - first)) // 3
    return float(10 ** x[index])


def minimum_tenth(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    x, y = _usable(lrs, losses)
    if len(y) <= SKIP_START:
        return None
    return float(10 ** x[SKIP_START + int(np.argmin(y[SKIP_START:]))]) / 10


def steepest_before_minimum(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """The steepest fall of the smoothed loss on the falling side of the curve (rnndoctor's heuristic).

    Only the stretch before the loss minimum counts: past it the curve is dominated by the onset of
    divergence, whose sharp noisy swings pull the plain steepest-point rule to rates that are far too
    high (or, after a spike, far too low). Combined with the sweep's fixed yardstick batch this lands
    closest to the best rate of a brute-force grid of the candidates scored on the selection tasks of
    bench/lr_heuristics.py (bench/lr_candidates.py). Returns None when the loss never falls meaningfully.
    """
    x, y = _usable(lrs, losses)
    if len(y) <= SKIP_START + 2:
        return None
    lowest = SKIP_START + int(np.argmin(y[SKIP_START:]))
    plateau = float(np.median(y[: max(SKIP_START, len(y) // 5)]))
    if plateau - float(y[lowest]) <= MIN_RELATIVE_DROP * abs(plateau) or lowest < SKIP_START + 2:
        return None
    slope = np.gradient(y[SKIP_START : lowest + 1], x[SKIP_START : lowest + 1])
    return float(10 ** x[SKIP_START + int(np.argmin(slope))])


MIN_RELATIVE_DROP = 0.02
"""Below this relative fall of the smoothed loss the sweep shows no learning and no heuristic applies."""

suggest: Heuristic = steepest_before_minimum
"""The heuristic rnndoctor suggests with, chosen on the selection tasks (bench/lr_candidates.py)."""

HEURISTICS: dict[str, Heuristic] = {
    "rnndoctor": steepest_before_minimum,
    "steepest": steepest,
    "valley": valley,
    "minimum/10": minimum_tenth,
}


def decades(a: float | None, b: float | None) -> float:
    """Distance between two learning rates in decades (inf when either is missing)."""
    if a is None or b is None or a <= 0 or b <= 0:
        return math.inf
    return abs(math.log10(a) - math.log10(b))

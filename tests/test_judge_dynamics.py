"""Boundary tests of the one-batch fit's verdicts (RD503/RD505), without torch."""

from __future__ import annotations

import pytest

from rnndoctor.measurements.dynamics import FitResult, OverfitRuns
from tests.helpers import judged_all, judged_codes

STILL, LEARNED, STUCK = 1e-3, 0.5, 0.3


def run(losses: list[float], fitted: bool = False) -> FitResult:
    return FitResult(
        lr=1e-3, initial_loss=losses[0], final_loss=losses[-1], steps=len(losses), fitted=fitted, losses=losses
    )


def plateau(start: float, end: float, steps: int = 100) -> list[float]:
    """Falls to ``end`` within the first third, then stays there."""
    third = steps // 3
    return [start + (end - start) * min(1.0, i / third) for i in range(steps)]


THRESHOLDS = {"still_tolerance": STILL, "learned_share": LEARNED, "stuck_share": STUCK}


def codes(result: FitResult, retry: FitResult | None = None) -> list[str]:
    return judged_codes("overfit_batch", OverfitRuns(result, retry), **THRESHOLDS)


@pytest.mark.parametrize("end", [0.72, 0.8, 0.95, 1.2])
def test_a_plateau_well_above_the_start_share_is_rd503(end: float) -> None:
    assert codes(run(plateau(1.0, end))) == ["RD503"]


@pytest.mark.parametrize("end", [0.69, 0.6, 0.51, 0.5001])
def test_between_stuck_and_learned_is_inconclusive(end: float) -> None:
    """A fall of 31% to 49%: no verdict, so a loss landing near one threshold cannot flip an error."""
    assert codes(run(plateau(1.0, end))) == []


def test_the_threshold_boundaries() -> None:
    assert codes(run(plateau(1.0, 0.7001))) == ["RD503"]
    assert codes(run(plateau(1.0, 0.6999))) == []
    assert codes(run(plateau(1.0, 0.4995))) == []
    assert codes(run(plateau(1.0, 0.5005))) == []


def test_a_loss_still_falling_at_the_end_is_learning() -> None:
    slow = [1.0 - 0.002 * i for i in range(100)]  # a 20% fall, steady to the last step
    assert codes(run(slow)) == []
    assert codes(run(plateau(1.0, 0.8))) == ["RD503"]


def test_negative_losses_are_judged_by_how_far_they_fell() -> None:
    assert codes(run(plateau(-0.5, -2.0))) == []
    assert codes(run(plateau(0.3, -1.0))) == []
    assert codes(run(plateau(-0.5, -0.55))) == ["RD503"]


def test_a_loss_that_does_not_move_is_rd505_under_rd503() -> None:
    assert codes(run([0.69] * 100)) == ["RD503", "RD505"]


def test_a_retry_that_fits_makes_the_rate_the_cause() -> None:
    runs = OverfitRuns(run(plateau(1.0, 0.9)), run(plateau(1.0, 0.01), fitted=True))
    findings = judged_all("overfit_batch", runs, **THRESHOLDS)
    assert [f.code for f in findings] == ["RD503"]
    assert "the learning rate, not the model" in findings[0].message
    assert findings[0].severity.label == "warning"

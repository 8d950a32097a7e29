"""Boundary tests for the judges, at the shipped defaults.

Each judge gets a measurement a little on the failing side of its default threshold (it must report) and
one on the passing side (it must stay quiet). The thresholds are read from the packaged defaults, so a
default made 100x less sensitive, or a comparison turned round, fails here (tests/mutations.py applies
such changes and expects these tests to catch them).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from rnndoctor.measurements.data import FeatureStats, LabelShift, LabelStats, LeakStats, PaddingStats, RegressionShift
from rnndoctor.measurements.dynamics import FitResult, OverfitRuns, Sweep
from rnndoctor.measurements.gradients import GradientStats, UpdateStats
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.measurements.model import RnnLayer, TimeProfile
from rnndoctor.runtime import lr_heuristics
from rnndoctor.setup.config import load_defaults
from tests.helpers import judged_codes

DEFAULTS: dict[str, Any] = load_defaults()["checks"]


def option(check: str, name: str) -> float:
    return float(DEFAULTS[check][name])


def codes(findings: list[Any]) -> list[str]:
    return [f.code for f in findings]


@pytest.mark.parametrize(("ratio", "reported"), [(1e-4, True), (1e-2, False)])
def test_vanishing_across_layers(ratio: float, reported: bool) -> None:
    stats = GradientStats(
        norms={}, rms={"rnn.weight_hh_l0": ratio, "head.weight": 1.0}, earliest_recurrent="rnn.weight_hh_l0",
        last_layer="head.weight",
    )  # fmt: skip
    assert ("RD402" in judged_codes("gradients", stats)) is reported


@pytest.mark.parametrize(("norm", "reported"), [(5e3, True), (50.0, False), (math.inf, True)])
def test_exploding_gradient_norm(norm: float, reported: bool) -> None:
    stats = GradientStats(norms={"rnn.weight_hh_l0": norm}, total_norm=norm)
    assert ("RD401" in judged_codes("gradients", stats)) is reported


@pytest.mark.parametrize(("radius", "reported"), [(2.0, True), (1.0, False), (0.01, True)])
def test_recurrent_spectral_radius(radius: float, reported: bool) -> None:
    layer = RnnLayer(
        name="rnn", kind="LSTM", input_size=4, hidden_size=8, num_layers=1, batch_first=True,
        spectral_radius={"weight_hh_l0[f]": radius},
    )  # fmt: skip
    assert (judged_codes("structure", layer) == ["RD208"]) is reported


@pytest.mark.parametrize(("per_step_fall", "reported"), [(10.0, True), (1.5, False)])
def test_memory_through_time(per_step_fall: float, reported: bool) -> None:
    profile = TimeProfile([per_step_fall**-back for back in range(40)], steps=40)
    assert (judged_codes("probes", profile) == ["RD403"]) is reported


@pytest.mark.parametrize(("imbalance", "reported"), [(0.05, True), (1e-7, False)])
def test_class_axis_gradient_balance(imbalance: float, reported: bool) -> None:
    measured = LossMeasurement(
        loss="CrossEntropyLoss", family="index", output_shape=(8, 12, 12), target_shape=(8, 12),
        target_is_float=False, target_integer_valued=True, class_axis_gradient_balance=imbalance,
    )  # fmt: skip
    assert (judged_codes("loss", measured) == ["RD305"]) is reported


@pytest.mark.parametrize(("ratio", "code"), [(1e-8, "RD405"), (1e-3, None), (0.5, "RD405")])
def test_update_to_weight_ratio(ratio: float, code: str | None) -> None:
    stats = UpdateStats(ratios={"rnn.weight_ih_l0": ratio, "head.weight": ratio}, optimizer="SGD", lr=0.1)
    assert judged_codes("gradients", stats) == ([code] if code else [])


@pytest.mark.parametrize(("final", "reported"), [(0.97, True), (0.6, False), (0.3, False)])
def test_one_batch_fit(final: float, reported: bool) -> None:
    """From 1.0: a fall of 3 % cannot fit (RD503), 40 % is inconclusive, 70 % is learning."""
    run = FitResult(lr=1e-3, initial_loss=1.0, final_loss=final, steps=200, fitted=False,
                                   losses=[1.0] * 150 + [final] * 50)  # fmt: skip
    assert ("RD503" in judged_codes("overfit_batch", OverfitRuns(run))) is reported


def _smoothed(losses: list[float], beta: float = 0.9) -> list[float]:
    """The sweep's bias-corrected running average (`rnndoctor.runtime.sweep.range_test`)."""
    out, average = [], 0.0
    for step, loss in enumerate(losses, 1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**step))
    return out


def _sweep(configured: float) -> Sweep:
    """A range test whose loss starts to fall near 1e-3, is lowest near 1e-1 and diverges above 1."""
    lrs = [10 ** (-7 + 8 * i / 99) for i in range(100)]
    losses = [2.0 if lr < 1e-3 else max(0.2, 2.0 - 0.9 * math.log10(lr / 1e-3)) if lr < 0.3 else 9.0 for lr in lrs]
    smoothed = _smoothed(losses)
    suggestion = lr_heuristics.suggest(lrs, smoothed)
    return Sweep(lrs, losses, smoothed, configured, suggestion, "SGD", diverged_at=0.5)


@pytest.mark.parametrize(("configured", "code"), [(1e-6, "RD501"), (3e-2, None), (5.0, "RD502")])
def test_learning_rate_verdict(configured: float, code: str | None) -> None:
    assert judged_codes("lr_sweep", _sweep(configured)) == ([code] if code else [])


def test_the_suggestion_stays_on_the_falling_side_of_the_curve() -> None:
    """Past the minimum a noisy divergence has the steepest drops; the rule must not be pulled there."""
    lrs = [10 ** (-6 + 7 * i / 99) for i in range(100)]
    losses = []
    for lr in lrs:
        if lr < 1e-4:
            losses.append(2.0)
        elif lr < 1e-2:
            losses.append(2.0 - 0.75 * math.log10(lr / 1e-4))
        else:
            rise = math.log10(lr / 1e-2)
            losses.append(0.5 + 2 * rise + (8.0 if int(rise * 5) % 2 else 0.0))  # a climb with spikes
    smoothed = _smoothed(losses)
    suggestion = lr_heuristics.suggest(lrs, smoothed)
    assert suggestion is not None and 1e-4 <= suggestion <= 1e-2, suggestion
    steepest = lr_heuristics.steepest(lrs, smoothed)
    assert steepest is not None and steepest > 1e-2, "the curve must tell the rule from plain steepest"


# --- the data family: every default threshold, one step on each side -------------------------------------


def _labels(counts: dict[int, int], classes: int | None = 2) -> LabelStats:
    return LabelStats("single-label classification", counts, classes, "CrossEntropyLoss", "sample")


def _features(mean: list[float], std: list[float]) -> FeatureStats:
    return FeatureStats(1000, mean, std, min(mean) - 3 * max(std), max(mean) + 3 * max(std))


def _leak(overlap: int, val_samples: int = 1000, duplicates: float = 0.0) -> LeakStats:
    return LeakStats(val_samples, 1000, overlap, train_duplicate_share=duplicates, train_coverage=1.0)


def _shift(val: dict[int, int], p_value: float = 1e-6) -> LabelShift:
    return LabelShift(_labels({0: 500, 1: 500}), _labels(val), p_value)


def _many_classes(classes: int) -> LabelStats:
    return _labels({0: 2000, **{c: 100 for c in range(1, classes)}}, classes)


DATA_BOUNDARIES = [
    # (default pinned, check, code, a measurement just past it, one just short of it)
    ("min_single_class_samples = 8", "labels", "RD101", _labels({0: 8}), _labels({0: 7})),
    ("imbalance_ratio = 10", "labels", "RD102", _labels({0: 200, 1: 20}), _labels({0: 200, 1: 21})),
    ("min_samples_per_class = 20", "labels", "RD102", _labels({0: 37, 1: 3}), _labels({0: 36, 1: 3})),
    ("max_classes = 100", "labels", "RD102", _many_classes(100), _many_classes(101)),
    ("shift_tvd = 0.15", "labels", "RD110", _shift({0: 660, 1: 340}), _shift({0: 640, 1: 360})),
    ("shift_p_value = 0.001", "labels", "RD110", _shift({0: 800, 1: 200}, 9e-4), _shift({0: 800, 1: 200}, 1.1e-3)),
    ("regression_shift_smd = 0.5", "labels", "RD110", RegressionShift(0, 1, 0.51, 1), RegressionShift(0, 1, 0.49, 1)),
    ("max_abs_mean = 5", "inputs", "RD106", _features([5.1], [1.0]), _features([4.9], [1.0])),
    ("max_std = 5", "inputs", "RD106", _features([0.0], [5.1]), _features([0.0], [4.9])),
    ("std_ratio = 1000", "inputs", "RD106", _features([0, 0], [1.0, 9.9e-4]), _features([0, 0], [1.0, 1.1e-3])),
    ("constant_tolerance = 0", "inputs", "RD107", _features([0, 1], [1.0, 0.0]), _features([0, 1], [1.0, 1e-9])),
    (
        "max_padding_share = 0.5",
        "inputs",
        "RD108",
        PaddingStats([49, 49], 100, "lengths"),
        PaddingStats([51, 51], 100, "lengths"),
    ),
    (
        "max_length_ratio = 10",
        "inputs",
        "RD108",
        PaddingStats([100, 9], 100, "lengths"),
        PaddingStats([100, 11], 100, "lengths"),
    ),
    ("min_leak_share = 0.05", "leakage", "RD111", _leak(51), _leak(49)),
    ("min_duplicates = 3", "leakage", "RD111", _leak(3, val_samples=20), _leak(2, val_samples=20)),
    ("chance_factor = 3", "leakage", "RD111", _leak(100, duplicates=0.0332), _leak(100, duplicates=0.0334)),
]


@pytest.mark.parametrize(
    ("pinned", "check", "code", "failing", "passing"), DATA_BOUNDARIES, ids=[b[0] for b in DATA_BOUNDARIES]
)
def test_data_defaults(pinned: str, check: str, code: str, failing: object, passing: object) -> None:
    name, _, value = pinned.partition(" = ")
    assert DEFAULTS[check][name] == pytest.approx(float(value)), f"{check}.{name} is no longer {value}"
    assert code in judged_codes(check, failing), f"{pinned}: a measurement just past it is not reported"
    assert code not in judged_codes(check, passing), f"{pinned}: a measurement just short of it is reported"


def test_every_data_threshold_is_pinned() -> None:
    """Each option a data rule declares has its boundary test above (the measurement options of the checks,
    which bound the work, are not thresholds)."""
    from rnndoctor.core.catalogue import all_rules

    declared = {o.name for rule in all_rules() if rule.code.startswith("RD1") for o in rule.options}
    assert declared == {pinned.partition(" = ")[0] for pinned, *_ in DATA_BOUNDARIES}


def test_an_initial_loss_far_from_chance_is_left_to_the_loss_rule_that_explains_it() -> None:
    """RD307 judges alone: with softmax-ed rows in CrossEntropyLoss (RD302) it stays quiet, without them it speaks."""
    measured = LossMeasurement(
        loss="CrossEntropyLoss", family="index", output_shape=(8, 4), target_shape=(8,), target_is_float=False,
        target_integer_valued=True, num_classes=4, loss_value=30.0, rows_are_probabilities=True,
    )  # fmt: skip
    assert judged_codes("loss", measured) == ["RD302"]
    measured.rows_are_probabilities = False
    assert judged_codes("loss", measured) == ["RD307"]


def test_a_run_that_beats_the_majority_share_is_not_at_chance() -> None:
    from rnndoctor.measurements.dynamics import Chance, ChanceRuns, ShortRun

    chance = Chance(loss=0.69, basis="ln 2", majority=0.5)
    stuck = ShortRun([0.70, 0.69, 0.69, 0.69], [0.5, 0.5, 0.5, 0.52], lr=1e-3)
    better = ShortRun([0.70, 0.69, 0.69, 0.69], [0.5, 0.5, 0.5, 0.70], lr=1e-3)
    assert judged_codes("overfitting", ChanceRuns(stuck, None, chance)) == ["RD507"]
    assert judged_codes("overfitting", ChanceRuns(better, None, chance)) == []

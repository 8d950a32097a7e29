"""Thresholds of the data judges, exercised on numbers alone (no model, no torch)."""

from __future__ import annotations

import math

import pytest

from rnndoctor.checks import judge_data as judge


def labels(counts: dict[int, int], kind: str = "single-label classification", classes: int | None = None):
    return judge.LabelStats(kind, counts, classes, "CrossEntropyLoss", "sample")


def test_single_class_needs_enough_samples_and_a_multi_class_model() -> None:
    assert judge.judge_single_class(labels({0: 100}, classes=2))
    assert not judge.judge_single_class(labels({0: 4}, classes=2))
    assert not judge.judge_single_class(labels({0: 100}, classes=1))
    assert not judge.judge_single_class(labels({0: 50, 1: 1}, classes=2))


@pytest.mark.parametrize(("minority", "fires"), [(10, True), (11, False)])
def test_imbalance_ratio_boundary(minority: int, fires: bool) -> None:
    found = judge.judge_imbalance(labels({0: 100, 1: minority}), ratio_threshold=10, min_per_class=20)
    assert bool(found) is fires


def test_imbalance_is_not_judged_on_too_small_a_sample() -> None:
    stats = labels({i: 1 for i in range(30)} | {0: 40})
    assert not judge.judge_imbalance(stats, ratio_threshold=10, min_per_class=20)


def test_imbalance_in_tagging_is_only_info() -> None:
    (finding,) = judge.judge_imbalance(labels({0: 900, 1: 50}, kind="per-timestep tagging"), 10, 20)
    assert finding.severity.label == "info"


def test_class_range() -> None:
    assert not judge.judge_class_range(judge.RangeStats(3, 0, 2, 0, 100))
    (one_based,) = judge.judge_class_range(judge.RangeStats(3, 1, 3, 30, 100))
    assert one_based.evidence["one_based"]
    (negative,) = judge.judge_class_range(judge.RangeStats(3, -1, 2, 5, 100, ignore_index=-100))
    assert "ignore_index" in negative.fix


def test_label_shift_needs_effect_and_significance() -> None:
    train = labels({0: 500, 1: 500})
    assert judge.judge_label_shift(train, labels({0: 200, 1: 50}), 0.15, 1e-3)
    assert not judge.judge_label_shift(train, labels({0: 140, 1: 110}), 0.15, 1e-3)
    assert not judge.judge_label_shift(train, labels({0: 7, 1: 3}), 0.15, 1e-3), "too few samples to be significant"


@pytest.mark.parametrize(
    ("x", "dof", "expected"), [(3.841, 1, 0.05), (9.21, 2, 0.01), (0.0, 3, 1.0), (30.0, 10, 0.000857)]
)
def test_chi_square_survival(x: float, dof: int, expected: float) -> None:
    assert judge.chi_square_survival(x, dof) == pytest.approx(expected, rel=2e-3, abs=1e-6)


def features(mean: list[float], std: list[float]) -> judge.FeatureStats:
    return judge.FeatureStats(1000, mean, std, min(mean) - 3 * max(std), max(mean) + 3 * max(std))


def test_scales() -> None:
    assert not judge.judge_scales(features([0.0, 0.1], [1.0, 0.9]), 5, 5, 1000)
    assert judge.judge_scales(features([250.0], [1.0]), 5, 5, 1000)
    assert judge.judge_scales(features([0.0], [40.0]), 5, 5, 1000)
    assert judge.judge_scales(features([0.0, 0.0], [1.0, 0.0005]), 5, 5, 1000)
    assert not judge.judge_scales(features([0.0, 0.0], [1.0, 0.0]), 5, 5, 1000), "a constant feature is RD107's"


def test_constant_features() -> None:
    (finding,) = judge.judge_constant_features(features([0.0, 1.0], [1.0, 0.0]), 0.0)
    assert finding.evidence["constant_features"] == [1]
    assert finding.severity.label == "info"
    (everything,) = judge.judge_constant_features(features([1.0], [0.0]), 0.0)
    assert everything.severity.label == "warning"


def test_padding() -> None:
    assert judge.judge_padding(judge.PaddingStats([2, 3, 50], 50, "explicit lengths"), 0.5, 10)
    assert not judge.judge_padding(judge.PaddingStats([40, 45, 50], 50, "explicit lengths"), 0.5, 10)


def test_leakage_discounts_chance_collisions() -> None:
    leaked = judge.LeakStats(
        val_samples=200, train_samples=1000, overlap=40, train_duplicate_share=0.0, train_coverage=1.0
    )
    assert judge.judge_leakage(leaked, 0.05, 3, 3.0)
    natural = judge.LeakStats(
        val_samples=200, train_samples=1000, overlap=40, train_duplicate_share=0.2, train_coverage=1.0
    )
    assert not judge.judge_leakage(natural, 0.05, 3, 3.0)
    partial = judge.LeakStats(
        val_samples=200, train_samples=1000, overlap=4, train_duplicate_share=0.0, train_coverage=0.05
    )
    (finding,) = judge.judge_leakage(partial, 0.05, 3, 3.0)
    assert math.isclose(finding.evidence["estimated_share"], 0.4)


def encoding(**overrides):  # type: ignore[no-untyped-def]
    base = dict(
        loss="CrossEntropyLoss",
        family="index",
        dtype="torch.int64",
        is_float=False,
        integer_valued=True,
        target_shape=(32,),
        output_shape=(32, 3),
        min_value=0.0,
        max_value=2.0,
    )
    base.update(overrides)
    return judge.TargetEncoding(**base)


def test_target_encoding_rules() -> None:
    assert not judge.judge_target_encoding(encoding())
    assert not judge.judge_target_encoding(encoding(dtype="torch.uint8"))
    assert judge.judge_target_encoding(encoding(dtype="torch.int32"))
    assert judge.judge_target_encoding(encoding(dtype="torch.float32", is_float=True))
    assert not judge.judge_target_encoding(
        encoding(dtype="torch.float32", is_float=True, target_shape=(32, 3), one_hot=True)
    ), "CrossEntropyLoss accepts class probabilities"
    assert judge.judge_target_encoding(
        encoding(loss="NLLLoss", dtype="torch.float32", is_float=True, target_shape=(32, 3), one_hot=True)
    )
    assert judge.judge_target_encoding(encoding(target_shape=(32, 1), output_shape=(32, 3)))
    binary = dict(loss="BCEWithLogitsLoss", family="binary", target_shape=(32, 1), output_shape=(32, 1))
    assert judge.judge_target_encoding(encoding(**binary))
    assert not judge.judge_target_encoding(encoding(**binary, dtype="torch.float32", is_float=True, max_value=1.0))
    assert judge.judge_target_encoding(encoding(**binary, dtype="torch.float32", is_float=True, min_value=-1.0))

"""Thresholds of the data judges, exercised on numbers alone (no model, no torch)."""

from __future__ import annotations

import math

import pytest

from rnndoctor.measurements.data import (
    FeatureStats,
    LabelShift,
    LabelStats,
    LeakStats,
    PaddingStats,
    RangeStats,
    TargetEncoding,
)
from rnndoctor.rules.data.rd110_label_shift import chi_square_survival
from tests.helpers import judged


def labels(counts: dict[int, int], kind: str = "single-label classification", classes: int | None = None):
    return LabelStats(kind, counts, classes, "CrossEntropyLoss", "sample")


def test_single_class_needs_enough_samples_and_a_multi_class_model() -> None:
    assert judged("labels", labels({0: 100}, classes=2), "RD101")
    assert not judged("labels", labels({0: 4}, classes=2), "RD101")
    assert not judged("labels", labels({0: 100}, classes=1), "RD101")
    assert not judged("labels", labels({0: 50, 1: 1}, classes=2), "RD101")


@pytest.mark.parametrize(("minority", "fires"), [(10, True), (11, False)])
def test_imbalance_ratio_boundary(minority: int, fires: bool) -> None:
    found = judged("labels", labels({0: 100, 1: minority}), "RD102")
    assert bool(found) is fires


def test_imbalance_is_not_judged_on_too_small_a_sample() -> None:
    stats = labels({i: 1 for i in range(30)} | {0: 40})
    assert not judged("labels", stats, "RD102")


def test_imbalance_in_tagging_is_only_info() -> None:
    (finding,) = judged("labels", labels({0: 900, 1: 50}, kind="per-timestep tagging"), "RD102")
    assert finding.severity.label == "info"


def test_class_range() -> None:
    assert not judged("labels", RangeStats(3, 0, 2, 0, 100), "RD103")
    (one_based,) = judged("labels", RangeStats(3, 1, 3, 30, 100), "RD103")
    assert one_based.evidence["one_based"]
    (negative,) = judged("labels", RangeStats(3, -1, 2, 5, 100, ignore_index=-100), "RD103")
    assert "ignore_index" in negative.fix


def test_label_shift_needs_effect_and_significance() -> None:
    train = labels({0: 500, 1: 500})
    assert judged("labels", LabelShift(train, labels({0: 200, 1: 50})), "RD110")
    assert not judged(
        "labels", LabelShift(train, labels({0: 140, 1: 110})), "RD110", shift_tvd=0.15, shift_p_value=1e-3
    )
    assert not judged("labels", LabelShift(train, labels({0: 7, 1: 3})), "RD110"), "too few samples to be significant"


@pytest.mark.parametrize(
    ("x", "dof", "expected"), [(3.841, 1, 0.05), (9.21, 2, 0.01), (0.0, 3, 1.0), (30.0, 10, 0.000857)]
)
def test_chi_square_survival(x: float, dof: int, expected: float) -> None:
    assert chi_square_survival(x, dof) == pytest.approx(expected, rel=2e-3, abs=1e-6)


def features(mean: list[float], std: list[float]) -> FeatureStats:
    return FeatureStats(1000, mean, std, min(mean) - 3 * max(std), max(mean) + 3 * max(std))


def test_scales() -> None:
    assert not judged("inputs", features([0.0, 0.1], [1.0, 0.9]), "RD106")
    assert judged("inputs", features([250.0], [1.0]), "RD106")
    assert judged("inputs", features([0.0], [40.0]), "RD106")
    assert judged("inputs", features([0.0, 0.0], [1.0, 0.0005]), "RD106")
    assert not judged("inputs", features([0.0, 0.0], [1.0, 0.0]), "RD106"), "a constant feature is RD107's"


def test_constant_features() -> None:
    (finding,) = judged("inputs", features([0.0, 1.0], [1.0, 0.0]), "RD107")
    assert finding.evidence["constant_features"] == [1]
    assert finding.severity.label == "info"
    (everything,) = judged("inputs", features([1.0], [0.0]), "RD107")
    assert everything.severity.label == "warning"


def test_padding() -> None:
    assert judged(
        "inputs", PaddingStats([2, 3, 50], 50, "explicit lengths"), "RD108", max_padding_share=0.5, max_length_ratio=10
    )
    assert not judged(
        "inputs",
        PaddingStats([40, 45, 50], 50, "explicit lengths"),
        "RD108",
        max_padding_share=0.5,
        max_length_ratio=10,
    )


def test_leakage_discounts_chance_collisions() -> None:
    leaked = LeakStats(val_samples=200, train_samples=1000, overlap=40, train_duplicate_share=0.0, train_coverage=1.0)
    assert judged("leakage", leaked, "RD111")
    natural = LeakStats(val_samples=200, train_samples=1000, overlap=40, train_duplicate_share=0.2, train_coverage=1.0)
    assert not judged("leakage", natural, "RD111")
    partial = LeakStats(val_samples=200, train_samples=1000, overlap=4, train_duplicate_share=0.0, train_coverage=0.05)
    (finding,) = judged("leakage", partial, "RD111")
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
    return TargetEncoding(**base)


def encoded(enc: TargetEncoding) -> list[object]:
    return judged("labels", enc, "RD104")


def test_target_encoding_rules() -> None:
    assert not encoded(encoding())
    assert not encoded(encoding(dtype="torch.uint8"))
    assert encoded(encoding(dtype="torch.int32"))
    assert encoded(encoding(dtype="torch.float32", is_float=True))
    assert not encoded(encoding(dtype="torch.float32", is_float=True, target_shape=(32, 3), one_hot=True)), (
        "CrossEntropyLoss accepts class probabilities"
    )
    assert encoded(encoding(loss="NLLLoss", dtype="torch.float32", is_float=True, target_shape=(32, 3), one_hot=True))
    assert encoded(encoding(target_shape=(32, 1), output_shape=(32, 3)))
    binary = dict(loss="BCEWithLogitsLoss", family="binary", target_shape=(32, 1), output_shape=(32, 1))
    assert encoded(encoding(**binary))
    assert not encoded(encoding(**binary, dtype="torch.float32", is_float=True, max_value=1.0))
    assert encoded(encoding(**binary, dtype="torch.float32", is_float=True, min_value=-1.0))

"""Each data check fires on its broken setup and stays quiet on every healthy one."""

from __future__ import annotations

import pytest

from rnndoctor import diagnose
from rnndoctor.core.findings import Severity
from tests import setups
from tests.reports import report_for

DATA_CODES = tuple(setups.BROKEN)


@pytest.mark.parametrize("code", DATA_CODES)
def test_broken_setup_reports_its_code_first(code: str) -> None:
    report = report_for("data", code)
    codes = [f.code for f in report.findings]
    assert codes, f"{code}: nothing reported"
    assert codes[0] == code, f"{code}: ranked {codes}"
    top = report.findings[0]
    assert top.evidence, "a finding must carry the numbers that justify it"
    assert top.fix.strip()


@pytest.mark.parametrize("name", sorted(setups.HEALTHY))
def test_healthy_setup_has_no_data_findings(name: str) -> None:
    report = report_for("healthy", name)
    data_findings = [f for f in report.findings if f.code.startswith("RD1")]
    assert data_findings == [], [(f.code, f.message) for f in data_findings]
    assert report.exit_code == 0
    assert all(c.status.value != "errored" for c in report.checks), [(c.name, c.detail) for c in report.checks]


def test_single_class_evidence() -> None:
    finding = diagnose(**setups.single_class()).findings[0]
    assert finding.evidence["class"] == 0
    assert finding.evidence["num_classes"] == 2
    assert finding.severity is Severity.ERROR


def test_one_based_labels_are_named() -> None:
    finding = diagnose(**setups.one_based_labels()).findings[0]
    assert finding.evidence["one_based"] is True
    assert finding.evidence["max_id"] == 3
    assert "targets - 1" in finding.fix


@pytest.mark.parametrize(
    ("build", "phrase"),
    [
        (setups.float_class_ids, ".long()"),
        (setups.integer_bce_targets, ".float()"),
        (setups.one_hot_long_targets, "argmax"),
    ],
)
def test_target_encoding_variants(build, phrase: str) -> None:  # type: ignore[no-untyped-def]
    report = diagnose(**build())
    finding = next(f for f in report.findings if f.code == "RD104")
    assert phrase in finding.fix


def test_token_range_blocks_the_forward_pass() -> None:
    report = diagnose(**setups.tokens_beyond_embedding())
    finding = report.findings[0]
    assert finding.evidence["max_id"] >= finding.evidence["num_embeddings"] == 50
    assert report.timing.forward_passes == 0, "ids outside the table must not reach the model (CUDA asserts)"


def test_imbalance_evidence_ratio() -> None:
    finding = diagnose(**setups.imbalanced()).findings[0]
    assert finding.evidence["ratio"] >= 10
    assert finding.evidence["minority_class"] == 1


def test_unscaled_and_disparate_inputs() -> None:
    unscaled = diagnose(**setups.unscaled_inputs()).findings[0]
    assert unscaled.evidence["max_abs_mean"] > 100
    disparate = diagnose(**setups.disparate_scales()).findings[0]
    assert disparate.code == "RD106"
    assert disparate.evidence["std_ratio"] >= 1000


def test_leak_estimate() -> None:
    finding = diagnose(**setups.leaked_validation()).findings[0]
    assert finding.evidence["overlap"] == 128
    assert finding.evidence["estimated_share"] == pytest.approx(1.0)


def test_quick_profile_and_selection_limit_checks() -> None:
    report = diagnose(**setups.single_class(), select=["RD106"])
    assert [c.name for c in report.checks] == ["inputs"]
    assert report.findings == []
    ignored = diagnose(**setups.single_class(), ignore=["RD1"])
    assert not [f for f in ignored.findings if f.code.startswith("RD1")]
    assert not {"labels", "inputs", "leakage"} & {c.name for c in ignored.checks}


def test_task_is_reported() -> None:
    assert diagnose(**setups.healthy_tagger()).task["kind"] == "per-timestep tagging"
    assert diagnose(**setups.healthy_regression()).task["kind"] == "regression"
    assert diagnose(**setups.healthy_multilabel()).task["kind"] == "multi-label classification"
    assert diagnose(**setups.healthy_classifier()).task["kind"] == "binary classification"


def test_unscaled_inputs_through_a_projection_are_still_reported() -> None:
    report = diagnose(**setups.unscaled_through_projection())
    assert report.findings[0].code == "RD106"
    assert "normalized_inside_model" not in next(c for c in report.checks if c.name == "inputs").metrics


def test_inputs_normalized_by_the_model_are_not_reported() -> None:
    report = diagnose(**setups.healthy_batchnorm_on_inputs())
    assert not [f for f in report.findings if f.code == "RD106"]
    assert next(c for c in report.checks if c.name == "inputs").metrics["normalized_inside_model"] is True

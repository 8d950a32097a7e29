"""Structure and loss checks: each code is the top finding on its broken setup; healthy setups stay clean."""

from __future__ import annotations

import pytest

from rnndoctor import diagnose
from rnndoctor.core.crashes import diagnose_crash
from rnndoctor.core.findings import Severity
from tests import setups
from tests.reports import report_for


@pytest.mark.parametrize("code", sorted(setups.BROKEN_MODEL_AND_LOSS))
def test_broken_setup_reports_its_code_first(code: str) -> None:
    report = report_for("model_and_loss", code)
    codes = [f.code for f in report.findings]
    assert codes and codes[0] == code, f"{code}: ranked {codes}"
    assert report.findings[0].evidence
    assert all(c.status.value != "errored" for c in report.checks), [(c.name, c.detail) for c in report.checks]


@pytest.mark.parametrize("name", sorted(setups.HEALTHY))
def test_healthy_setups_get_no_errors_or_warnings(name: str) -> None:
    report = report_for("healthy", name)
    loud = [(f.code, f.message) for f in report.findings if f.severity >= Severity.WARNING]
    assert loud == []


def test_silent_class_axis_is_measured_by_gradient() -> None:
    finding = diagnose(**setups.class_axis_silent()).findings[0]
    assert finding.evidence["silent"] is True
    assert finding.evidence["gradient_imbalance"] > 0.01
    assert "permute(0, 2, 1)" in finding.fix


def test_class_axis_crash_is_explained_with_shapes() -> None:
    finding = diagnose(**setups.class_axis_crash()).findings[0]
    assert finding.code == "RD305"
    assert finding.evidence["silent"] is False
    assert finding.evidence["output_shape"][-1] == 5


def test_input_size_mismatch_carries_numbers_not_just_the_error() -> None:
    report = diagnose(**setups.wrong_input_size())
    (finding,) = [f for f in report.findings if f.code == "RD201"]
    assert finding.evidence["input_size"] == 7 and finding.evidence["received_features"] == 4


def test_double_softmax_floor() -> None:
    finding = diagnose(**setups.double_softmax()).findings[0]
    assert finding.evidence["last_op"].startswith("Softmax")
    assert finding.evidence["loss_floor"] == pytest.approx(0.5514, abs=1e-3)


def test_broadcast_names_the_squeeze() -> None:
    finding = diagnose(**setups.unsqueezed_regression()).findings[0]
    assert finding.evidence["broadcast_shape"] == [32, 32]
    assert "squeeze(-1)" in finding.fix


def test_carried_state_costs_two_steps_only_when_state_is_stored() -> None:
    stateful = diagnose(**setups.carried_hidden_state(), select=["RD212"], verify=False)
    assert stateful.timing.backward_passes == 2
    plain = diagnose(**setups.healthy_classifier(), select=["RD212"])
    assert plain.timing.backward_passes == 0


@pytest.mark.parametrize(
    ("stage", "message", "code"),
    [
        ("forward", "input.size(-1) must be equal to input_size. Expected 5, got 6", "RD201"),
        ("forward", "index out of range in self", "RD109"),
        ("loss", "Target 5 is out of bounds.", "RD103"),
        ("loss", "expected target dtype to be Long or Byte, but got Float", "RD104"),
        ("loss", "Expected floating point type for target with class probabilities, got Long", "RD104"),
        ("loss", "all elements of input should be between 0 and 1", "RD303"),
        ("backward", "Trying to backward through the graph a second time (or directly access saved tensors)", "RD212"),
        ("loss", "Expected target size [32, 20], got [32, 50]", "RD305"),
        ("loss", "Using a target size (torch.Size([32])) that is different... size mismatch", "RD304"),
        ("loss", "Expected input batch_size (12) to match target batch_size (32).", "RD304"),
        ("forward", "something nobody has seen before", "RD001"),
    ],
)
def test_crash_messages_map_to_causes(stage: str, message: str, code: str) -> None:
    finding = diagnose_crash(stage, RuntimeError(message))
    assert finding.code == code
    assert finding.from_crash
    assert message.split(".")[0][:30] in finding.evidence["error"]

"""Gradient health, dependency probes and the user's training step."""

from __future__ import annotations

import pytest

from rnndoctor import diagnose
from rnndoctor.measurements.model import TimeProfile
from rnndoctor.render.plots import sparkline
from tests import setups
from tests.reports import report_for


@pytest.mark.parametrize("code", sorted(setups.BROKEN_PROBES))
def test_broken_setup_reports_its_code_first(code: str) -> None:
    report = report_for("probes", code)
    codes = [f.code for f in report.findings]
    assert codes and codes[0] == code, f"{code}: ranked {codes}"
    assert report.findings[0].evidence
    assert all(c.status.value != "errored" for c in report.checks), [(c.name, c.detail) for c in report.checks]


def test_silent_batch_first_mixup_is_found_by_gradients_alone() -> None:
    report = diagnose(**setups.swapped_axes_silent())
    finding = report.findings[0]
    assert finding.code == "RD202" and finding.check == "probes"
    assert finding.evidence["samples_touched"] == 12


def test_batch_mixing_names_the_leak() -> None:
    finding = diagnose(**setups.h_n_view()).findings[0]
    assert finding.evidence["gradient_share_on_other_samples"] > 0.01


def test_padding_leak_is_measured_by_appending_padding() -> None:
    finding = diagnose(**setups.padded_last_step_readout()).findings[0]
    assert finding.evidence["max_relative_change"] > 1e-2
    assert finding.evidence["padding"] == "explicit lengths"


def test_bidirectional_last_step_explains_the_idle_reverse_weights() -> None:
    report = diagnose(**setups.bidirectional_last_step())
    assert [f.code for f in report.findings] == ["RD211", "RD210"]
    assert report.findings[1].explained_by == "RD211"
    assert any("reverse" in p for p in report.findings[1].evidence["parameters"])


def test_missing_zero_grad_doubles_the_gradient() -> None:
    finding = diagnose(**setups.missing_zero_grad()).findings[0]
    assert finding.evidence["grad_growth"] == pytest.approx(2.0, rel=1e-3)
    assert finding.evidence["zero_grad_calls"] == 0


def test_eval_mode_only_matters_with_dropout() -> None:
    finding = diagnose(**setups.eval_mode_updates()).findings[0]
    assert finding.evidence["modules"] == ["drop"]
    healthy = diagnose(**setups.HEALTHY["eval_without_dropout_step"]())
    assert not [f for f in healthy.findings if f.code == "RD406"]


def test_probes_are_cheap_and_counted() -> None:
    report = diagnose(**setups.healthy_classifier(), select=["RD207", "RD206", "RD211", "RD403"])
    probes = next(c for c in report.checks if c.name == "probes")
    assert probes.metrics["forward_passes"] <= 2
    assert probes.metrics["backward_passes"] <= 8
    assert report.timing.backward_passes == probes.metrics["backward_passes"]


def test_time_profile_memory_and_sparkline() -> None:
    profile = TimeProfile([1.0, 0.5, 0.1, 1e-2, 1e-4, 1e-5], steps=6)
    assert profile.memory(3) == 4
    assert profile.memory(1) == 3
    chart = sparkline([1e-5, 1e-4, 1e-2, 0.1, 0.5, 1.0])
    assert chart[0] == "▁" and chart[-1] == "█"


def test_default_lstm_on_long_sequences_is_not_called_forgetful() -> None:
    report = diagnose(**setups.healthy_long_lstm(), select=["RD403"])
    probes = next(c for c in report.checks if c.name == "probes")
    assert probes.metrics["effective_memory"] >= 6
    assert report.findings == []

"""Learning-rate sweep, overfitting one batch, the input-free baseline, overfitting and training logs."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from rnndoctor import diagnose
from rnndoctor.cli import cli
from rnndoctor.core.findings import Severity
from rnndoctor.logs.curves import CurveThresholds, History, judge_history, read_history
from rnndoctor.runtime import lr_heuristics
from tests import setups
from tests.reports import report_for

pytestmark = pytest.mark.slow  # learning-rate sweeps and fits


@pytest.mark.parametrize("code", sorted(setups.BROKEN_DYNAMICS))
def test_broken_setup_reports_its_code_first(code: str) -> None:
    report = report_for("dynamics", code)
    codes = [f.code for f in report.findings]
    assert codes and codes[0] == code, f"{code}: ranked {codes}"


def test_adam_at_1e_7_is_too_low_and_explains_the_flat_fit() -> None:
    report = diagnose(**setups.adam_lr_1e_7())
    top = report.findings[0]
    assert top.code == "RD501" and top.severity is Severity.ERROR
    assert top.evidence["configured_lr"] == pytest.approx(1e-7)
    assert 1e-4 < top.evidence["suggested_lr"] < 1.0
    assert all(f.explained_by == "RD501" for f in report.findings[1:])


def test_sgd_far_too_high_diverges() -> None:
    report = diagnose(**setups.sgd_lr_too_high())
    top = report.findings[0]
    assert top.code == "RD502"
    assert top.evidence["lowest_loss_lr"] * 3 < top.evidence["configured_lr"] == 30.0


def test_the_sweep_stops_once_the_loss_diverges() -> None:
    setup = setups.classifier()
    setup["optimizer"] = torch.optim.SGD(setup["model"].parameters(), lr=0.1)
    report = diagnose(**setup, select=["RD502"], checks={"lr_sweep": {"max_lr": 1000.0}})
    sweep = next(c for c in report.checks if c.name == "lr_sweep")
    assert sweep.metrics["diverged_at"] is not None
    assert sweep.metrics["steps"] < 100
    assert sweep.metrics["forward_passes"] == 2 * sweep.metrics["steps"], "a training step and a yardstick pass"
    assert sweep.metrics["backward_passes"] == sweep.metrics["steps"]


@pytest.mark.parametrize(
    "build",
    [
        setups.healthy_classifier,
        setups.sgd_healthy,
        setups.healthy_regression,
        setups.healthy_packed_tokens,
        setups.healthy_tagger,
    ],
)
def test_sensible_rates_get_no_error(build) -> None:  # type: ignore[no-untyped-def]
    report = diagnose(**build())
    assert [f.code for f in report.findings if f.severity >= Severity.WARNING] == []
    sweep = next(c for c in report.checks if c.name == "lr_sweep")
    assert {"suggested_lr", "configured_lr"} <= set(sweep.metrics)
    overfit = next(c for c in report.checks if c.name == "overfit_batch")
    assert {"initial_loss", "final_loss", "steps"} <= set(overfit.metrics)


def test_overfit_stops_as_soon_as_the_batch_is_fitted() -> None:
    report = diagnose(**setups.sgd_healthy(), select=["RD503"])
    overfit = next(c for c in report.checks if c.name == "overfit_batch")
    assert overfit.metrics["fitted"] and overfit.metrics["steps"] < 200
    assert overfit.metrics["forward_passes"] == overfit.metrics["steps"]


def test_input_free_baseline_catches_a_model_that_ignores_its_input() -> None:
    report = diagnose(**setups.classifier(model=setups.InputIgnoringClassifier()), select=["RD5"])
    assert report.findings[0].code == "RD506"
    assert report.findings[0].evidence["final_loss_zero_inputs"] == pytest.approx(
        report.findings[0].evidence["final_loss_real_inputs"], rel=0.05
    )


def test_rule_on_a_clean_curve() -> None:
    lrs = [10 ** (-6 + 6 * i / 99) for i in range(100)]
    losses = [2.0 - 1.5 / (1 + math.exp(-(math.log10(lr) + 3) * 3)) for lr in lrs]
    losses[-10:] = [v * (1 + 0.5 * k) for k, v in enumerate(losses[-10:])]
    suggestion = lr_heuristics.suggest(lrs, losses)
    assert suggestion is not None and 1e-4 < suggestion < 1e-2
    assert lr_heuristics.suggest(lrs, [1.0] * 100) is None
    found = {name: heuristic(lrs, losses) for name, heuristic in lr_heuristics.HEURISTICS.items()}
    expected = {"rnndoctor": 9.3e-4, "steepest": 9.3e-4, "valley": 4.3e-3, "minimum/10": 2.8e-2}
    assert found == pytest.approx(expected, rel=0.02)


def write_log(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_keras_history_with_overfitting(tmp_path: Path) -> None:
    rows = [[e, 1 / (e + 1), 0.5 / (e + 1) + 0.03 * max(0, e - 4) ** 2, 0.5 + e / 30, 0.6] for e in range(12)]
    log = write_log(tmp_path / "history.csv", ["epoch", "loss", "val_loss", "accuracy", "val_accuracy"], rows)
    history = read_history(log)
    assert len(history.epochs) == 12
    (finding,) = judge_history(history, CurveThresholds())
    assert finding.code == "RD601" and finding.evidence["best_epoch"] == 4


def test_lightning_rows_are_merged_per_epoch(tmp_path: Path) -> None:
    rows = []
    for e in range(5):
        rows += [[e, 0.6931, "", ""], [e, "", 0.6932, 0.5]]
    log = write_log(tmp_path / "metrics.csv", ["epoch", "train_loss", "val_loss", "val_acc"], rows)
    history = read_history(log)
    assert history.train_loss == [0.6931] * 5 and history.val_loss == [0.6932] * 5
    (finding,) = judge_history(history, CurveThresholds())
    assert finding.code == "RD505" and "ln 2" in finding.message


def test_divergence_oscillation_and_nan() -> None:
    diverging = History(epochs=[0, 1, 2, 3, 4], train_loss=[1.0, 0.5, 0.4, 0.7, 1.2], val_loss=[None] * 5)
    assert [f.code for f in judge_history(diverging, CurveThresholds())] == ["RD502"]
    zigzag = History(epochs=list(range(8)), train_loss=[1.0, 0.6, 0.9, 0.5, 0.85, 0.45, 0.8, 0.4], val_loss=[None] * 8)
    (finding,) = judge_history(zigzag, CurveThresholds())
    assert finding.code == "RD502" and finding.severity is Severity.WARNING
    broken = History(epochs=[0, 1, 2], train_loss=[1.0, float("nan"), float("nan")], val_loss=[None] * 3)
    assert judge_history(broken, CurveThresholds())[0].code == "RD401"
    healthy = History(
        epochs=list(range(6)), train_loss=[1 / (e + 1) for e in range(6)], val_loss=[1.1 / (e + 1) for e in range(6)]
    )
    assert judge_history(healthy, CurveThresholds()) == []


def test_curves_command(tmp_path: Path) -> None:
    log = write_log(tmp_path / "flat.csv", ["epoch", "loss"], [[e, 2.3026] for e in range(6)])
    result = CliRunner().invoke(cli, ["curves", str(log), "--format", "json"])
    assert result.exit_code == 1
    assert '"RD505"' in result.stdout
    missing = CliRunner().invoke(cli, ["curves", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "Traceback" not in missing.stderr
    no_loss = write_log(tmp_path / "bad.csv", ["epoch", "lr"], [[0, 0.1]])
    bad = CliRunner().invoke(cli, ["curves", str(no_loss)])
    assert bad.exit_code == 2 and "no loss column" in bad.stderr


def test_a_sweep_that_ends_before_the_loss_falls_is_extended_to_a_suggestion() -> None:
    """The first range test stops at 1e-3, where SGD has not moved the loss yet: no suggestion from it, so a
    second one beyond its end finds where the loss falls (the best rate lies past the first sweep)."""
    setup = setups.classifier()
    setup["optimizer"] = torch.optim.SGD(setup["model"].parameters(), lr=1e-6)
    report = diagnose(**setup, select=["RD501"], checks={"lr_sweep": {"max_lr": 1e-3}})
    sweep = next(c for c in report.checks if c.name == "lr_sweep")
    low, high = sweep.metrics["refined_range"]
    assert low == pytest.approx(1e-4) and high > 1e-3
    assert sweep.metrics["suggested_lr"] is not None and sweep.metrics["suggested_lr"] > 1e-3
    assert len(sweep.metrics["plots"]) == 2 and "second sweep" in sweep.detail


def test_lbfgs_sweeps_take_fewer_steps_for_its_inner_iterations() -> None:
    from rnndoctor.runtime.session import Session
    from rnndoctor.runtime.sweep import closure_aware_steps

    model = torch.nn.Linear(2, 1)
    session = Session.__new__(Session)
    session.optimizer = torch.optim.LBFGS(model.parameters(), max_iter=20)
    assert closure_aware_steps(session, 100, warmup=10) == 20
    session.optimizer = torch.optim.LBFGS(model.parameters(), max_iter=2)
    assert closure_aware_steps(session, 100, warmup=10) == 100
    session.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert closure_aware_steps(session, 100, warmup=10) == 100

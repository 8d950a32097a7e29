"""Fix verification: each automatable fix tried on the user's model, recorded on the finding, used by the ranking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from rnndoctor import diagnose
from rnndoctor.checks.verification import FitSummary, improved
from rnndoctor.cli import cli
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.ranking import rank
from rnndoctor.core.remedies import automated_codes
from rnndoctor.render.common import verification_line

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class LastStepClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def sign_batches(
    scale: float, count: int = 8, size: int = 32, steps: int = 12
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sequences whose class is the sign of their first feature's mean, the inputs multiplied by ``scale``."""
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        x = torch.randn(size, steps, 3, generator=generator)
        batches.append((x * scale, (x[:, :, 0].mean(dim=1) > 0).long()))
    return batches


def run(summary: dict[str, object]) -> FitSummary:
    return FitSummary(**summary)  # type: ignore[arg-type]


def test_improvement_needs_a_real_gain() -> None:
    stuck = run({"initial_loss": 1.1, "final_loss": 1.0, "steps": 150, "progress": 0.09})
    learning = run({"initial_loss": 1.1, "final_loss": 0.2, "steps": 150, "progress": 0.82})
    fitted_fast = run({"initial_loss": 1.1, "final_loss": 0.005, "steps": 30, "fitted": True, "progress": 1.0})
    fitted_slow = run({"initial_loss": 1.1, "final_loss": 0.005, "steps": 100, "fitted": True, "progress": 1.0})
    crashed = run({"error": "RuntimeError: boom"})
    assert improved(stuck, learning, False, 0.2, 0.1)
    assert not improved(learning, stuck, False, 0.2, 0.1)
    assert not improved(stuck, run({**stuck.__dict__, "progress": 0.2}), False, 0.2, 0.1)
    assert improved(fitted_slow, fitted_fast, False, 0.2, 0.1)
    assert not improved(fitted_fast, fitted_slow, False, 0.2, 0.1)
    assert improved(crashed, learning, False, 0.2, 0.1)
    assert not improved(learning, crashed, False, 0.2, 0.1)


def test_balanced_accuracy_judges_class_weights() -> None:
    majority = run({"initial_loss": 0.7, "final_loss": 0.2, "progress": 0.7, "balanced_accuracy": 0.5})
    weighted = run({"initial_loss": 0.7, "final_loss": 0.4, "progress": 0.4, "balanced_accuracy": 0.9})
    assert improved(majority, weighted, True, 0.2, 0.1)
    assert not improved(weighted, majority, True, 0.2, 0.1)


def test_the_catalogue_covers_the_fixes_users_make() -> None:
    wanted = {"RD102", "RD106", "RD202", "RD212", "RD302", "RD303", "RD301", "RD304", "RD305", "RD309"}
    wanted |= {"RD401", "RD404", "RD407", "RD501", "RD502"}
    assert wanted <= set(automated_codes())


def test_double_softmax_fix_is_verified_on_the_model() -> None:
    report = diagnose(EXAMPLES / "double_softmax" / "config.yaml", device="cpu")
    top = report.findings[0]
    assert top.code == "RD302"
    verified = report.to_dict()["findings"][0]["verified"]
    assert verified["applied"] is True and verified["improved"] is True
    assert set(verified) >= {"applied", "before", "after", "improved"}
    for run_ in (verified["before"], verified["after"]):
        assert set(run_) >= {"initial_loss", "final_loss", "steps", "accuracy"}
    assert verified["after"]["final_loss"] < verified["before"]["final_loss"]
    line = verification_line(top)
    assert line is not None and line.startswith("fix verified: loss on one batch")
    assert "without it" in line
    json.dumps(report.to_dict(), allow_nan=False)


def test_no_verify_skips_the_trials_and_keeps_the_verdict() -> None:
    config = EXAMPLES / "double_softmax" / "config.yaml"
    result = CliRunner().invoke(cli, ["check", str(config), "--format", "json", "--no-verify"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert "verify_fixes" not in {c["name"] for c in doc["checks"]}
    assert doc["findings"][0]["code"] == "RD302" and doc["findings"][0]["verified"] is None


def test_healthy_setup_tries_nothing() -> None:
    report = diagnose(EXAMPLES / "healthy_lstm" / "config.yaml", device="cpu")
    assert report.exit_code == 0
    assert "verify_fixes" not in {c.name for c in report.checks}  # nothing to verify: not run, not listed
    assert all(f.verified is None for f in report.findings)


def test_quick_profile_does_not_verify() -> None:
    report = diagnose(EXAMPLES / "double_softmax" / "config.yaml", device="cpu", quick=True)
    assert "verify_fixes" not in {c.name for c in report.checks}


@pytest.mark.slow
def test_competing_causes_are_ranked_by_the_verified_effect() -> None:
    """Inputs scaled by 8 (RD106) and SGD at 1e-5 (RD501): the static graph puts the inputs first, but only
    the learning-rate fix restores learning, so it leads and the normalization is demoted."""
    torch.manual_seed(0)
    model = LastStepClassifier()
    before = [p.detach().clone() for p in model.parameters()]

    def diagnosis(verify: bool) -> list[Finding]:
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-5)
        report = diagnose(
            model=model, train_data=sign_batches(8.0), loss=nn.CrossEntropyLoss(), optimizer=optimizer, verify=verify
        )
        return report.findings

    unverified = diagnosis(False)
    assert unverified[0].code == "RD106"
    verified = diagnosis(True)
    assert verified[0].code == "RD501" and verified[0].fix_outcome == "improved"
    inputs = next(f for f in verified if f.code == "RD106")
    assert inputs.fix_outcome == "no_effect" and inputs.explained_by is None
    assert inputs.severity is Severity.WARNING  # not raised to error: its fix did not help
    line = verification_line(inputs)
    assert line is not None and "no effect" in line and "probably not what stops training" in line
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def _finding(code: str, severity: Severity, verified: dict[str, object] | None) -> Finding:
    return Finding(code, severity, code, "message", "fix", verified=verified)


def test_ranking_prefers_the_bigger_verified_effect() -> None:
    small = {"applied": True, "improved": True, "effect": 0.3, "before": {}, "after": {}}
    big = {"applied": True, "improved": True, "effect": 1.2, "before": {}, "after": {}}
    useless = {"applied": True, "improved": False, "effect": 0.0, "baseline_learned": False, "before": {}, "after": {}}
    findings = [
        _finding("RD401", Severity.ERROR, useless),
        _finding("RD106", Severity.WARNING, small),
        _finding("RD502", Severity.ERROR, big),
        _finding("RD210", Severity.ERROR, None),
    ]
    assert [f.code for f in rank(findings)] == ["RD502", "RD106", "RD210", "RD401"]


def test_a_fix_that_could_not_show_its_effect_is_not_demoted() -> None:
    inconclusive = {"applied": True, "improved": False, "baseline_learned": True, "before": {}, "after": {}}
    finding = _finding("RD404", Severity.ERROR, inconclusive)
    assert finding.fix_outcome == "untried"
    line = verification_line(finding)
    assert line is not None and "no measurable effect" in line and "probably not" not in line


@pytest.mark.parametrize(("steps", "faster"), [(50, True), (51, False)])
def test_fitting_faster_counts_from_half_the_steps(steps: int, faster: bool) -> None:
    """Both runs fit the batch: the fix improves only when it needs at most half the steps."""
    before = run({"initial_loss": 1.1, "final_loss": 0.005, "steps": 100, "fitted": True, "progress": 1.0})
    after = run({"initial_loss": 1.1, "final_loss": 0.005, "steps": steps, "fitted": True, "progress": 1.0})
    assert improved(before, after, False, 0.2, 0.1) is faster

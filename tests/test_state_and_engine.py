"""The run leaves the user's objects exactly as it found them, and no check can crash the tool."""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from rnndoctor import diagnose
from rnndoctor.core.findings import Severity
from rnndoctor.core.ranking import rank
from rnndoctor.core.registry import _REGISTRY, Check, CheckContext, Outcome, register
from tests import setups
from tests.helpers import make_finding, without_timing


def snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return {
        "params": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "grads": {k: None if p.grad is None else p.grad.clone() for k, p in model.named_parameters()},
        "requires_grad": {k: p.requires_grad for k, p in model.named_parameters()},
        "modes": [m.training for m in model.modules()],
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state()[1].copy(),
        "python_rng": random.getstate(),
        "hooks": [len(m._forward_hooks) for m in model.modules()],
    }


def assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    for key in before["params"]:
        assert torch.equal(before["params"][key], after["params"][key]), key
    for key, grad in before["grads"].items():
        other = after["grads"][key]
        assert (grad is None and other is None) or torch.equal(grad, other), key
    assert before["requires_grad"] == after["requires_grad"]
    assert before["modes"] == after["modes"]
    assert before["hooks"] == after["hooks"]
    assert torch.equal(before["torch_rng"], after["torch_rng"])
    assert np.array_equal(before["numpy_rng"], after["numpy_rng"])
    assert before["python_rng"] == after["python_rng"]
    opt_before, opt_after = before["optimizer"], after["optimizer"]
    assert opt_before["param_groups"] == opt_after["param_groups"]
    for index, state in opt_before["state"].items():
        for name, value in state.items():
            other = opt_after["state"][index][name]
            assert torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other


def trained_setup() -> dict[str, Any]:
    setup = setups.healthy_classifier()
    model = setup["model"]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = next(iter(setup["train_data"]))
    nn.CrossEntropyLoss()(model(x), y).backward()
    optimizer.step()
    model.head.weight.requires_grad_(False)
    model.rnn.eval()
    setup["optimizer"] = optimizer
    return setup


def test_state_is_restored_bit_for_bit() -> None:
    setup = trained_setup()
    random.seed(123)
    np.random.seed(7)
    torch.manual_seed(99)
    before = snapshot(setup["model"], setup["optimizer"])
    diagnose(**setup, seed=5)
    assert_same(before, snapshot(setup["model"], setup["optimizer"]))


class ExplodingCheck(Check):
    name = "test_exploding"
    codes = ("RD101",)
    cost = 0

    def run(self, ctx: CheckContext) -> Outcome:
        ctx.session.model.train()
        with torch.no_grad():
            for p in ctx.session.model.parameters():
                p.add_(1.0)
        ctx.session.model.register_forward_hook(lambda *a: None)
        raise RuntimeError("a bug inside a check")


class SlowCheck(Check):
    name = "test_slow"
    codes = ("RD102",)
    cost = 0

    def run(self, ctx: CheckContext) -> Outcome:
        while True:
            ctx.session.forward(ctx.session.sample().batches[0])
            time.sleep(0.01)


@pytest.fixture
def extra_checks():  # type: ignore[no-untyped-def]
    for check in (ExplodingCheck, SlowCheck):
        register(check)
    yield
    for check in (ExplodingCheck, SlowCheck):
        _REGISTRY.pop(check.name, None)


def test_a_crashing_check_is_errored_and_state_still_restored(extra_checks: None) -> None:
    setup = trained_setup()
    before = snapshot(setup["model"], setup["optimizer"])
    report = diagnose(**setup, select=["RD101"])
    status = {c.name: c for c in report.checks}
    assert status["test_exploding"].status.value == "errored"
    assert "a bug inside a check" in status["test_exploding"].detail
    assert status["labels"].status.value == "passed", "later checks still run on the untouched model"
    assert_same(before, snapshot(setup["model"], setup["optimizer"]))


def test_time_budget_stops_a_check(extra_checks: None) -> None:
    report = diagnose(**setups.healthy_classifier(), check_timeout=0.3, select=["RD102"])
    slow = next(c for c in report.checks if c.name == "test_slow")
    assert slow.status.value == "errored" and "time budget" in slow.detail
    assert report.timing.forward_passes > 0


def test_a_crash_in_user_code_becomes_a_finding() -> None:
    class WrongInput(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(7, 8, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(x)[0][:, -1])

    report = diagnose(**setups.classifier(model=WrongInput()))
    codes = [f.code for f in report.findings]
    assert "RD201" in codes
    (finding,) = [f for f in report.findings if f.code == "RD201"]
    assert (finding.evidence["input_size"], finding.evidence["received_features"]) == (7, 4)
    assert report.exit_code == 1


def test_an_unknown_crash_is_quoted_with_the_users_line() -> None:
    class Broken(setups.SequenceClassifier):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("cannot reshape the frobnicator")

    report = diagnose(**setups.classifier(model=Broken()))
    finding = report.findings[0]
    assert finding.code == "RD001"
    assert "frobnicator" in finding.evidence["error"]
    assert finding.evidence["at"].startswith("test_state_and_engine.py:")
    assert report.exit_code == 1


def test_same_seed_same_report() -> None:
    first = diagnose(**setups.label_shift(), seed=3).to_dict()
    second = diagnose(**setups.label_shift(), seed=3).to_dict()
    assert without_timing(first) == without_timing(second)


def test_rank_orders_severity_then_causes_then_confidence() -> None:
    symptom = make_finding("RD504", "collapsed", "fix", severity=Severity.ERROR, confidence=1.0)
    cause = make_finding("RD101", "one class", "fix", confidence=0.5)
    info = make_finding("RD107", "constant", "fix")
    warning = make_finding("RD102", "imbalance", "fix")
    ordered = rank([info, symptom, warning, cause])
    assert [f.code for f in ordered] == ["RD101", "RD504", "RD102", "RD107"]
    assert len(rank([info, make_finding("RD107", "constant", "fix")])) == 1


class InterruptingCheck(Check):
    name = "test_interrupt"
    codes = ("RD105",)
    cost = 5

    def run(self, ctx: CheckContext) -> Outcome:
        raise KeyboardInterrupt


def test_ctrl_c_prints_the_partial_report_and_exits_130() -> None:
    from click.testing import CliRunner

    from rnndoctor.cli import cli
    from tests.test_project import ROOT

    register(InterruptingCheck)
    try:
        result = CliRunner().invoke(
            cli, ["check", str(ROOT / "examples/label_collapse/config.yaml"), "--format", "json", "--no-progress"]
        )
    finally:
        _REGISTRY.pop(InterruptingCheck.name, None)
    assert result.exit_code == 130
    import json

    doc = json.loads(result.stdout)
    assert doc["interrupted"] is True
    assert [f["code"] for f in doc["findings"]] == ["RD101"], "checks that ran before Ctrl-C keep their findings"


def test_a_loaders_own_generator_is_restored() -> None:
    setup = setups.healthy_classifier()
    loader = setup["train_data"]
    generator = torch.Generator().manual_seed(5)
    loader.generator = generator
    loader.sampler.generator = generator
    before = generator.get_state().clone()
    diagnose(**setup, select=["RD1"])
    assert torch.equal(generator.get_state(), before)


def test_state_is_restored_after_a_timeout_and_after_ctrl_c(extra_checks: None) -> None:
    setup = trained_setup()
    before = snapshot(setup["model"], setup["optimizer"])
    diagnose(**setup, check_timeout=0.5, select=["RD102"])
    assert_same(before, snapshot(setup["model"], setup["optimizer"]))
    register(InterruptingCheck)
    try:
        report = diagnose(**setup, check_timeout=0.5)
    finally:
        _REGISTRY.pop(InterruptingCheck.name, None)
    assert report.interrupted
    assert_same(before, snapshot(setup["model"], setup["optimizer"]))


def test_same_seed_same_numbers_across_every_check() -> None:
    first = diagnose(**setups.healthy_classifier(), seed=11).to_dict()
    second = diagnose(**setups.healthy_classifier(), seed=11).to_dict()
    assert without_timing(first) == without_timing(second)

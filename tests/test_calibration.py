"""Calibration: the false alarms seen on ordinary models stay quiet, and the failures that were missed are
found (RD214, RD309, RD407, RD507 first on their broken setups, silent on their healthy twins)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnndoctor import diagnose
from rnndoctor.checks.labels import shift_p_value
from rnndoctor.core.findings import Report, Severity
from rnndoctor.core.ranking import escalate
from rnndoctor.logs.curves import CurveThresholds, History, judge_history
from rnndoctor.measurements.dynamics import BlindFit, FitResult
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.runtime.sweep import diverged_from
from tests.helpers import judged, make_finding
from tests.test_real_code import Classifier, batches, drift

Batch = tuple[torch.Tensor, ...]


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def loud(report: Report) -> list[str]:
    return [f.code for f in report.findings if f.severity >= Severity.WARNING]


# -- false alarms that must stay quiet ---------------------------------------------------------------


class TiedTagger(nn.Module):
    """Scores with the embedding matrix itself (F.linear, no head module) and returns (N, V, T)."""

    def __init__(self, vocab: int = 12) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(vocab, 16)
        self.rnn = nn.GRU(16, 16, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return F.linear(out, self.embed.weight).permute(0, 2, 1)


def test_tied_weights_scored_with_f_linear_are_not_rd305() -> None:
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 12, (64, 13), generator=g)  # T == V == 12
    data = batches(tokens[:, :-1], tokens[:, 1:], size=16)
    report = diagnose(model=TiedTagger(), train_data=data, loss=nn.CrossEntropyLoss(), select=["RD3"])
    assert "RD305" not in codes(report)


def test_rd305_says_steps_and_classes_are_equal_only_when_they_are() -> None:
    def message(shape: tuple[int, ...]) -> str:
        m = LossMeasurement("CrossEntropyLoss", "index", shape, (4, 12), False, True, class_axis_gradient_balance=0.3)
        return judged("loss", m, "RD305", class_axis_balance=1e-3)[0].message

    assert "both 12" in message((4, 12, 12))
    assert "both" not in message((4, 12, 7))


def test_label_shift_is_judged_against_sampling_noise() -> None:
    rng = np.random.default_rng(0)
    same = np.eye(3)[rng.choice(3, size=120, p=[0.5, 0.3, 0.2])]
    other = np.eye(3)[rng.choice(3, size=40, p=[0.5, 0.3, 0.2])]
    shifted = np.eye(3)[rng.choice(3, size=40, p=[0.1, 0.2, 0.7])]
    assert shift_p_value(same, other, 2000, 0) > 0.01
    assert shift_p_value(same, shifted, 2000, 0) < 1e-3
    per_step = np.array([[8.0, 2.0, 0.0]] * 10 + [[0.0, 2.0, 8.0]] * 10)  # whole sequences as units
    assert shift_p_value(per_step[:15], per_step[15:], 2000, 0) > 1e-3


def test_adam_first_step_is_not_judged_for_update_size() -> None:
    model = Classifier(False)
    report = diagnose(
        model=model,
        train_data=batches(*drift()),
        loss=nn.CrossEntropyLoss(),
        optimizer=torch.optim.Adam(model.parameters(), lr=0.05),
        quick=True,
    )
    assert "RD405" not in codes(report)
    gradients = next(c for c in report.checks if c.name == "gradients")
    assert "median_update_ratio" not in gradients.metrics


def test_a_large_forget_gate_bias_is_not_saturation() -> None:
    model = Classifier(False)
    with torch.no_grad():
        for name, p in model.rnn.named_parameters():
            if name.startswith("bias"):
                p[16:32].fill_(6.0)  # forget gate wide open: remember
    report = diagnose(model=model, train_data=batches(*drift()), loss=nn.CrossEntropyLoss(), select=["RD209"])
    assert codes(report) == []
    with torch.no_grad():
        for name, p in model.rnn.named_parameters():
            if name.startswith("bias"):
                p[16:32].fill_(-6.0)  # forget gate shut: forget everything
    report = diagnose(model=model, train_data=batches(*drift()), loss=nn.CrossEntropyLoss(), select=["RD209"])
    assert codes(report) == ["RD209"]


def test_validation_still_below_training_is_not_overfitting() -> None:
    history = History(source="short training run")
    history.epochs = [1.0, 2.0, 3.0, 4.0, 5.0]
    history.train_loss = [0.9, 0.8, 0.7, 0.6, 0.55]
    history.val_loss = [0.40, 0.38, 0.42, 0.45, 0.47]  # rising by 24%, yet below training throughout
    history.train_acc = history.val_acc = [None] * 5
    assert judge_history(history, CurveThresholds()) == []
    history.val_loss = [0.80, 0.70, 0.75, 0.85, 0.95]
    (finding,) = judge_history(history, CurveThresholds())
    assert finding.code == "RD601" and finding.message.startswith("In a short run of 5 epochs")


def test_outputs_that_read_the_input_are_not_rd506() -> None:
    normal = FitResult(1e-3, 1.0, 0.9, 100, False, losses=[1.0] * 50 + [0.9] * 50)
    blind = FitResult(1e-3, 1.0, 0.9, 100, False, losses=[1.0] * 50 + [0.9] * 50)
    assert [
        f.code
        for f in judged(
            "overfit_batch", BlindFit(normal, blind, 1e-6), "RD506", input_gain_tolerance=0.05, input_sensitivity=0.01
        )
    ] == ["RD506"]
    assert (
        judged(
            "overfit_batch", BlindFit(normal, blind, 0.4), "RD506", input_gain_tolerance=0.05, input_sensitivity=0.01
        )
        == []
    )


@pytest.mark.parametrize(
    ("curve", "diverged"),
    [
        ([1.0, 0.5, 0.4, 1.7], True),
        ([1.0, 0.5, 0.4, 1.5], False),
        ([0.5, -1.0, -2.0, 5.6], True),
        ([0.5, -1.0, -2.0, 5.4], False),
    ],
)
def test_sweep_divergence_works_for_negative_losses(curve: list[float], diverged: bool) -> None:
    assert diverged_from(curve, min(curve[:-1]), 4.0) is diverged


def test_unscaled_inputs_are_an_error_when_the_harm_shows() -> None:
    unscaled = make_finding("RD106", "inputs in the hundreds", "standardize", {})
    saturated = make_finding("RD209", "gates saturated", "normalize", {})
    assert unscaled.severity is Severity.WARNING
    escalate([unscaled, saturated])
    assert unscaled.severity is Severity.ERROR and unscaled.evidence["raised_by"] == ["RD209"]
    assert "RD209" in unscaled.explains


# -- failures that were missed -------------------------------------------------------------------------


class NextTokenModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(30, 16)
        self.rnn = nn.LSTM(16, 32, batch_first=True)
        self.head = nn.Linear(32, 30)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embed(x))[0]).reshape(-1, 30)


def token_rows(n: int = 64, steps: int = 17) -> torch.Tensor:
    g = torch.Generator().manual_seed(4)
    successor = torch.randint(0, 30, (30,), generator=g)
    rows = [torch.randint(0, 30, (n,), generator=g)]
    for _ in range(steps - 1):
        rows.append(successor[rows[-1]])
    return torch.stack(rows, dim=1)


@pytest.mark.parametrize("shift", [1, 0])
def test_unshifted_language_model_targets_are_rd309(shift: int) -> None:
    tokens = token_rows()
    targets = tokens[:, shift : shift + 16].reshape(-1, 16)
    data = [(tokens[i : i + 16, :16], targets[i : i + 16].reshape(-1)) for i in range(0, 64, 16)]
    report = diagnose(model=NextTokenModel(), train_data=data, loss=nn.CrossEntropyLoss(), select=["RD2", "RD3"])
    assert codes(report)[:1] == ([] if shift else ["RD309"])


class StepForecaster(nn.Module):
    """Predicts a reading at every step from the readings so far (or, as an autoencoder, from all of them)."""

    def __init__(self, bottleneck: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.bottleneck = bottleneck
        self.encoder = nn.GRU(3, 24, batch_first=True)
        self.decoder = nn.GRU(24, 24, batch_first=True)
        self.head = nn.Linear(24, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.encoder(x)
        if self.bottleneck:
            out, _ = self.decoder(h[-1].unsqueeze(1).expand(-1, x.shape[1], -1).contiguous())
        return self.head(out)


def sensor_traces(shift: int) -> list[Batch]:
    g = torch.Generator().manual_seed(2)
    t = torch.arange(25, dtype=torch.float32).view(1, 25, 1)
    traces = torch.sin(t * (0.2 + 0.4 * torch.rand(64, 1, 3, generator=g)) + 6 * torch.rand(64, 1, 3, generator=g))
    return batches(traces[:, :24], traces[:, shift : shift + 24], size=16)


@pytest.mark.parametrize("shift", [1, 0])
def test_a_forecaster_given_its_own_targets_is_rd309(shift: int) -> None:
    report = diagnose(model=StepForecaster(), train_data=sensor_traces(shift), loss=nn.MSELoss(), select=["RD3"])
    assert codes(report)[:1] == ([] if shift else ["RD309"])


def test_a_sequence_autoencoder_reconstructing_its_input_is_not_rd309() -> None:
    report = diagnose(
        model=StepForecaster(bottleneck=True), train_data=sensor_traces(0), loss=nn.MSELoss(), select=["RD3"]
    )
    assert "RD309" not in codes(report)
    alignment = next(c for c in report.checks if c.name == "alignment")
    assert alignment.metrics["equal_share[0]"] == 1.0


class Seq2Seq(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(12, 16)
        self.encoder = nn.GRU(16, 32, batch_first=True)
        self.decoder = nn.GRU(16, 32, batch_first=True)
        self.head = nn.Linear(32, 12)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        _, h = self.encoder(self.embed(src))
        out, _ = self.decoder(self.embed(tgt_in), h)
        return self.head(out)


@pytest.mark.parametrize("shifted", [True, False])
def test_teacher_forcing_with_the_targets_themselves_is_rd214(shifted: bool) -> None:
    g = torch.Generator().manual_seed(5)
    src = torch.randint(2, 12, (64, 8), generator=g)
    data = batches(src, src.flip(1), size=16)

    def forward(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        source, target = batch
        tgt_in = torch.cat([torch.ones_like(target[:, :1]), target[:, :-1]], dim=1) if shifted else target
        return model(source, tgt_in).reshape(-1, 12), target.reshape(-1)

    report = diagnose(
        model=Seq2Seq(), train_data=data, loss=nn.CrossEntropyLoss(), forward=forward, select=["RD2", "RD3"]
    )
    assert codes(report)[:1] == ([] if shifted else ["RD214"])


@pytest.mark.parametrize("late", [False, True])
@pytest.mark.parametrize("imported", [False, True])
def test_clipping_after_the_step_is_rd407(late: bool, imported: bool) -> None:
    from torch.nn.utils import clip_grad_norm_ as imported_clip  # the name bound at import time

    def step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer, loss_fn: Any) -> torch.Tensor:
        clip = imported_clip if imported else torch.nn.utils.clip_grad_norm_
        x, y = batch
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if not late:
            clip(model.parameters(), 0.01)
        optimizer.step()
        if late:
            clip(model.parameters(), 0.01)
        return loss

    report = diagnose(
        model=Classifier(False),
        train_data=batches(*drift()),
        loss=nn.CrossEntropyLoss(),
        train_step=step,
        select=["RD4"],
    )
    assert codes(report) == (["RD407"] if late else [])


@pytest.mark.parametrize("shuffled", [False, True])
def test_labels_shuffled_apart_from_their_samples_is_rd507(shuffled: bool) -> None:
    x, y = drift(n=512)
    if shuffled:
        y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(9))]
    report = diagnose(model=Classifier(False), train_data=batches(x, y), loss=nn.CrossEntropyLoss(), select=["RD5"])
    assert loud(report)[:1] == (["RD507"] if shuffled else []), codes(report)
    assert math.isfinite(next(c for c in report.checks if c.name == "overfitting").metrics["chance_loss"])


def test_a_warning_whose_fix_changed_nothing_is_not_raised() -> None:
    """The harm shown (RD209) has another cause when standardizing the inputs (RD106's fix) did not help."""
    unscaled = make_finding("RD106", "inputs in the hundreds", "standardize", {})
    unscaled.verified = {"applied": True, "improved": False}
    escalate([unscaled, make_finding("RD209", "gates saturated", "normalize", {})])
    assert unscaled.severity is Severity.WARNING and "raised_by" not in unscaled.evidence

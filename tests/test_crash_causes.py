"""A crash names its cause (issue 28 §6): a Linear layer fed the wrong number of features is named, with the
layer that fed it and why (a bidirectional layer outputs 2 × hidden_size), and the finding is filed under the
check its stage belongs to, not under whichever check ran the model first."""

from __future__ import annotations

import torch
from torch import nn

from rnndoctor import diagnose
from rnndoctor.core.crashes import CRASH_HOMES, file_crashes
from rnndoctor.core.findings import Finding, Severity

HIDDEN = 32


class Classifier(nn.Module):
    def __init__(self, bidirectional: bool, head_in: int) -> None:
        super().__init__()
        self.encoder = nn.GRU(6, HIDDEN, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(head_in, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(x)
        return self.head(out[:, -1])


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 9, 6, generator=generator)
    return [(x[i : i + 16], (x[i : i + 16, 0, 0] > 0).long()) for i in range(0, 64, 16)]


def _crash(model: nn.Module) -> Finding:
    report = diagnose(model=model, train_data=_batches(), loss=nn.CrossEntropyLoss(), quick=True)
    (crash,) = [f for f in report.findings if f.code == "RD001"]
    return crash


def test_a_bidirectional_layer_into_a_linear_sized_for_one_direction() -> None:
    crash = _crash(Classifier(bidirectional=True, head_in=HIDDEN))
    assert crash.check == "structure"  # not labels, the first check that ran the model
    assert "'head' (nn.Linear(32, 2)) receives 64 features per row, not 32" in crash.message
    assert "'encoder', a bidirectional GRU" in crash.message and "2 × 32 = 64" in crash.message
    assert "self.head = nn.Linear(2 * 32, 2)" in crash.fix
    assert "Reproduce it on one batch" not in crash.fix
    assert crash.evidence["layer"] == "head" and crash.evidence["producer"] == "encoder"


def test_a_linear_sized_for_another_width() -> None:
    crash = _crash(Classifier(bidirectional=False, head_in=10))
    assert "'head' (nn.Linear(10, 2)) receives 32 features per row, not 10" in crash.message
    assert "the output of 'encoder' (GRU)" in crash.message
    assert "self.head = nn.Linear(32, 2)" in crash.fix


def test_crashes_are_filed_under_the_check_of_their_stage() -> None:
    def crash(stage: str) -> Finding:
        finding = Finding("RD001", Severity.ERROR, "t", "m", "f", {"stage": stage}, check="labels")
        finding.from_crash = True
        return finding

    details = {
        "structure": "the user's forward raised RuntimeError: ...",
        "loss": "CrossEntropyLoss on outputs [8, 2]: loss 0.69",  # passed: the crash came later, elsewhere
        "labels": "the user's forward raised RuntimeError: ...",
    }
    findings = file_crashes([crash("forward"), crash("loss"), crash("backward")], details)
    assert [f.check for f in findings] == ["structure", "labels", "labels"]  # gradients did not run
    assert set(CRASH_HOMES) >= {"forward", "loss", "backward", "train_data"}

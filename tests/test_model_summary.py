"""The model summary (issue 28): every format lists the model's layers with their parameter counts and the
shapes they saw on a real batch, as Lightning's ModelSummary does; a non-finite finding names the first
module that produced NaN or Inf."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from rnndoctor import diagnose
from rnndoctor.core.findings import Report
from rnndoctor.render import render

FORMATS = ("text", "json", "markdown", "github", "junit", "html")


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.GRU(6, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(x)
        return self.head(out[:, -1])


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 9, 6, generator=generator)
    return [(x[i : i + 8], (x[i : i + 8, 0, 0] > 0).long()) for i in range(0, 32, 8)]


@pytest.fixture(scope="module")
def report() -> Report:
    return diagnose(model=Tagger(), train_data=_batches(), loss=nn.CrossEntropyLoss(), quick=True)


def test_the_summary_holds_layers_parameters_and_shapes(report: Report) -> None:
    model = report.to_dict()["model"]
    assert model["class"] == "Tagger" and model["file"].endswith("test_model_summary.py") and model["line"] > 0
    assert model["parameters"] == sum(p.numel() for p in Tagger().parameters()) == model["trainable"]
    encoder, head = model["layers"]
    assert encoder == {
        "name": "encoder",
        "type": "GRU",
        "parameters": 3 * (6 * 16 + 16 * 16 + 2 * 16),
        "trainable": 3 * (6 * 16 + 16 * 16 + 2 * 16),
        "input": [8, 9, 6],
        "output": [8, 9, 16],
    }
    assert head["type"] == "Linear" and head["input"] == [8, 16] and head["output"] == [8, 2]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_the_summary(report: Report, fmt: str) -> None:
    text = render(report, fmt)
    if fmt == "json":
        text = json.dumps(json.loads(text)["model"])
    for shown in ("Tagger", "encoder", "GRU", "[8, 9, 6]", "[8, 9, 16]", "head"):
        assert shown in text, (fmt, shown)


class LogOfNegative(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x - 2.0)  # GRU outputs lie in (-1, 1): NaN everywhere


class RootAtZero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x * 0.0)  # finite forward, infinite gradient


class Broken(Tagger):
    def __init__(self, squash: nn.Module) -> None:
        super().__init__()
        self.squash = squash

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(x)
        return self.head(self.squash(out[:, -1]))


@pytest.mark.parametrize(("squash", "where"), [(LogOfNegative(), "forward"), (RootAtZero(), "backward")])
def test_a_non_finite_finding_names_the_module_that_made_it(squash: nn.Module, where: str) -> None:
    result = diagnose(
        model=Broken(squash), train_data=_batches(), loss=nn.CrossEntropyLoss(), select=["RD401"], quick=True
    )
    (finding,) = [f for f in result.findings if f.code == "RD401"]
    assert finding.evidence["non_finite_from"] == "squash" and finding.evidence["non_finite_in"] == where
    assert "'squash'" in finding.message

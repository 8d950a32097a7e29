"""CNNs, MLPs and Transformers: modality-aware inputs, recurrent-only checks skipped, the causal-mask probe,
the three examples with their healthy twins, and the twinned fixtures of tests/families/."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from rnndoctor import diagnose
from rnndoctor.checks.probes import next_step_targets
from rnndoctor.runtime.modality import IMAGES, SEQUENCES, SIGNALS, TABULAR, input_modality
from tests.corpus import Case, cases, run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FAMILIES = ROOT / "tests" / "families"


def loud(report: object) -> list[str]:
    return [f.code for f in report.findings if f.severity.label in ("error", "warning")]  # type: ignore[attr-defined]


class ConvNet(nn.Module):
    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 8, 3, padding=1)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def test_modality_names_the_feature_axis() -> None:
    conv = ConvNet()
    assert input_modality(torch.zeros(4, 3, 16, 16), conv, False) == input_modality(torch.zeros(4, 3, 8, 8), conv, True)
    assert input_modality(torch.zeros(4, 3, 16, 16), conv, False).kind == IMAGES
    assert input_modality(torch.zeros(4, 3, 16, 16), conv, False).feature_axis == 1
    assert input_modality(torch.zeros(4, 16, 16, 3), conv, False).feature_axis == 3  # channels last, permuted later
    assert input_modality(torch.zeros(4, 16, 16, 3), nn.Linear(3, 2), False).feature_axis == 3
    assert input_modality(torch.zeros(4, 10), nn.Linear(10, 2), False).kind == TABULAR
    signals = input_modality(torch.zeros(4, 6, 50), nn.Sequential(nn.Conv1d(6, 8, 3)), True)
    assert (signals.kind, signals.feature_axis) == (SIGNALS, 1)
    sequences = input_modality(torch.zeros(4, 50, 6), nn.LSTM(6, 8, batch_first=True), True)
    assert (sequences.kind, sequences.feature_axis) == (SEQUENCES, 2)
    rows = input_modality(torch.zeros(4, 3, 5, 5), conv, False).rows(torch.arange(300.0).reshape(4, 3, 5, 5))
    assert rows.shape == (100, 3) and float(rows[0, 1]) == 25.0  # channel 1 of pixel (0, 0, 0)


def raw_image_batches(count: int = 6) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        labels = torch.randint(0, 4, (16,), generator=generator)
        images = torch.randint(0, 120, (16, 3, 12, 12), generator=generator).float()
        for i, label in enumerate(labels.tolist()):
            images[i, label % 3, : 6 * (label // 3 + 1)] += 120.0
        batches.append((images, labels))
    return batches


def test_raw_pixels_are_judged_and_fixed_per_channel() -> None:
    torch.manual_seed(0)
    model = ConvNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    report = diagnose(
        model=model, train_data=raw_image_batches(), loss=nn.CrossEntropyLoss(), optimizer=optimizer, select=["RD106"]
    )
    (finding,) = report.findings
    assert finding.evidence["modality"] == "images" and finding.evidence["features"] == 3
    assert finding.evidence["raw_pixels"] is True
    assert "raw 0-255 pixel values" in finding.message and "channel" in finding.message
    assert "prices" not in finding.fix and "RNN" not in finding.message
    assert "dim=(0, 2, 3)" in finding.fix and "transforms.Normalize(mean=[" in finding.fix
    assert "x.float() / 255" in finding.fix
    verified = finding.verified or {}
    assert verified.get("applied") and "per channel" in str(verified.get("change"))


def test_recurrent_only_checks_say_so_on_a_cnn() -> None:
    torch.manual_seed(0)
    model = ConvNet()
    batches = [(x / 255.0, y) for x, y in raw_image_batches()]
    report = diagnose(model=model, train_data=batches, loss=nn.CrossEntropyLoss(), select=["RD2"], verify=False)
    structure = next(c for c in report.checks if c.name == "structure")
    assert structure.status.value == "skipped"
    assert structure.detail.startswith("no recurrent layers")


def test_next_step_targets() -> None:
    tokens = torch.randint(0, 20, (4, 12))
    following = torch.cat([tokens[:, 1:], torch.zeros(4, 1, dtype=torch.long)], dim=1)
    assert next_step_targets(tokens, following)
    assert not next_step_targets(tokens, tokens.flip(1))
    series = torch.randn(4, 12, 1)
    assert next_step_targets(series, torch.cat([series[:, 1:, 0], torch.zeros(4, 1)], dim=1))
    assert not next_step_targets(series, torch.randn(4, 12))


class TinyCausalLM(nn.Module):
    """A one-layer Transformer language model; ``leak`` builds the mask with the wrong orientation."""

    def __init__(self, leak: bool, vocab: int = 12, width: int = 16, steps: int = 10) -> None:
        super().__init__()
        self.leak = leak
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(torch.randn(steps, width) * 0.1)
        layer = nn.TransformerEncoderLayer(width, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(width, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[1]
        future = torch.triu(torch.ones(steps, steps, dtype=torch.bool), diagonal=1)
        mask = future.T if self.leak else future  # True = masked: the transpose hides the past instead
        h = self.encoder(self.embed(x) + self.position[:steps], mask=mask)
        return self.head(h).transpose(1, 2)


def lm_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(4):
        text = torch.randint(0, 12, (8, 11), generator=generator)
        batches.append((text[:, :-1], text[:, 1:]))
    return batches


@pytest.mark.parametrize("leak", [True, False])
def test_a_leaking_causal_mask_is_rd215(leak: bool) -> None:
    torch.manual_seed(0)
    report = diagnose(model=TinyCausalLM(leak), train_data=lm_batches(), loss=nn.CrossEntropyLoss(), select=["RD215"])
    found = [f for f in report.findings if f.code == "RD215"]
    if leak:
        assert found and found[0].evidence["future_gradient_share"] > 0.01
    else:
        assert not found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("example", "expected"),
    [("cnn_raw_pixels", "RD404"), ("mlp_imbalanced", "RD102"), ("transformer_causal_leak", "RD215")],
)
def test_family_examples_and_their_healthy_twins(example: str, expected: str) -> None:
    broken = diagnose(EXAMPLES / example / "config.yaml", device="cpu")
    assert broken.findings and broken.findings[0].code == expected, [f.code for f in broken.findings]
    if example == "cnn_raw_pixels":
        assert "RD106" in {f.code for f in broken.findings}
        fit = next(c for c in broken.checks if c.name == "overfit_batch")
        assert fit.status.value in ("passed", "found") and fit.metrics["steps"] <= 200
    if example == "mlp_imbalanced":
        assert "RD505" not in {f.code for f in broken.findings}
    healthy = diagnose(EXAMPLES / example / "healthy.yaml", device="cpu")
    assert loud(healthy) == []


def test_the_families_corpus_is_twinned() -> None:
    found = cases(FAMILIES)
    folders = {case.config.parent.name for case in found}
    assert len(folders) >= 6
    for folder in folders:
        assert sorted(c.config.stem for c in found if c.config.parent.name == folder) == ["broken", "healthy"]


@pytest.mark.slow
@pytest.mark.parametrize("case", cases(FAMILIES), ids=lambda case: case.name)
def test_families_setup(case: Case) -> None:
    outcome = run(case)
    if case.healthy:
        assert not outcome.loud, f"false alarms on a healthy setup: {outcome.codes}"
    else:
        assert case.accepts(outcome.top), f"expected {case.expect} first, got {outcome.codes}"
        assert outcome.errors == case.errors, f"errors {sorted(outcome.errors)}, expected {sorted(case.errors)}"

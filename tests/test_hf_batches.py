"""Hugging Face-style batches (issue 28 §5): with ``batch_keys`` the model gets the batch's other keys its
forward takes (``attention_mask``), and when rnndoctor's own way of calling the model does not fit, the report
says so (RD002, naming ``forward``) instead of telling the user to fix a correct line of their code."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnndoctor import diagnose
from rnndoctor.runtime.calls import fitted

KEYS = {"inputs": "input_ids", "targets": "labels"}


class MaskedTagger(nn.Module):
    """Reads each sequence's last real step from the attention mask, as Hugging Face models do."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(40, 8, padding_idx=0)
        self.encoder = nn.GRU(8, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> dict[str, Any]:
        lengths = attention_mask.sum(dim=1)  # type: ignore[union-attr]  # the line the issue saw blamed
        out, _ = self.encoder(self.embed(input_ids))
        return {"logits": self.head(out[torch.arange(len(lengths)), lengths - 1])}


class NeedsMask(MaskedTagger):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, Any]:  # type: ignore[override]
        return super().forward(input_ids, attention_mask)


def hf_batches(with_mask: bool = True) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(4):
        lengths = torch.randint(3, 10, (16,), generator=generator)
        mask = (torch.arange(10)[None, :] < lengths[:, None]).long()
        ids = torch.randint(1, 40, (16, 10), generator=generator) * mask
        batch = {"input_ids": ids, "labels": (ids[:, 0] % 2).long()}
        if with_mask:
            batch["attention_mask"] = mask
        batches.append(batch)
    return batches


def test_the_attention_mask_reaches_the_model() -> None:
    report = diagnose(
        model=MaskedTagger(), train_data=hf_batches(), loss=nn.CrossEntropyLoss(), batch_keys=KEYS, quick=True
    )
    codes = [f.code for f in report.findings]
    assert "RD001" not in codes and "RD002" not in codes, [(f.code, f.message) for f in report.findings]
    statuses = {c.name: c.status.value for c in report.checks}
    assert statuses["probes"] != "errored" and statuses["loss"] == "passed", statuses
    assert "RD206" not in codes  # appended padding is masked out: the mask grows with the inputs


def test_a_missing_optional_argument_is_not_blamed_on_the_users_line() -> None:
    report = diagnose(
        model=MaskedTagger(), train_data=hf_batches(False), loss=nn.CrossEntropyLoss(), batch_keys=KEYS, quick=True
    )
    assert "RD001" not in [f.code for f in report.findings]
    (unusable,) = [f for f in report.findings if f.code == "RD002"]
    assert "model(input_ids)" in unusable.message and "attention_mask=None" in unusable.message
    assert "forward: steps.py:forward_batch" in unusable.message
    assert not any("fix the line" in f.fix for f in report.findings)
    assert report.exit_code == 2


def test_a_required_argument_the_batch_lacks_names_the_call() -> None:
    report = diagnose(
        model=NeedsMask(), train_data=hf_batches(False), loss=nn.CrossEntropyLoss(), batch_keys=KEYS, quick=True
    )
    (unusable,) = [f for f in report.findings if f.code == "RD002"]
    assert "does not take these arguments" in unusable.message and "attention_mask" in unusable.message
    assert "RD001" not in [f.code for f in report.findings]


def test_a_mask_follows_inputs_a_probe_lengthened_or_cut() -> None:
    mask = torch.ones(4, 6, dtype=torch.long)
    longer = fitted(mask, torch.zeros(4, 9, dtype=torch.long))
    assert longer.shape == (4, 9) and int(longer[:, 6:].sum()) == 0
    assert fitted(mask, torch.zeros(2, 6)).shape == (2, 6)
    assert fitted(mask, torch.zeros(4, 6, 3)) is mask

"""The language model's forward step: flatten (N, T, V) scores and (N, T) next-character targets for the loss."""

from __future__ import annotations

import torch
from torch import nn


def forward_batch(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    logits = model(x)
    return logits.view(-1, logits.size(-1)), y.view(-1)

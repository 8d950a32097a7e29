"""A three-class task where one class dominates: about 90% / 7% / 3% of the samples."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def train_loader(batch_size: int = 32, samples: int = 2048) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    y = torch.multinomial(torch.tensor([0.90, 0.07, 0.03]), samples, replacement=True, generator=g)
    x = torch.randn(samples, 20, 4, generator=g)
    x[:, :, 0] += y.float()[:, None] * 0.5
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)

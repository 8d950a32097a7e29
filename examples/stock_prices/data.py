"""Next-day price regression fed with raw prices (hundreds of dollars) instead of normalized values."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def _prices(samples: int, window: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    start = 50 + 450 * torch.rand(samples, 1, generator=g)
    returns = 0.02 * torch.randn(samples, window + 1, generator=g)
    series = start * torch.exp(torch.cumsum(returns, dim=1))
    return series[:, :window, None], series[:, window]


def train_loader(batch_size: int = 32, window: int = 30):
    x, y = _prices(1024, window, seed=0)
    return DataLoader(
        TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

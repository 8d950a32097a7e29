"""Next-value prediction on windows of a noisy sine wave, each window starting at a random phase.

Inputs are (N, window, 1) and targets are the value after each window, stored as a flat (N,) vector, the
way most tutorials slice them: ``series[:, window]``.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def sine_windows(samples: int, seed: int, window: int = 30) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    phase = 2 * torch.pi * torch.rand(samples, 1, generator=g)
    t = 0.2 * torch.arange(window + 1, dtype=torch.float32)[None, :]
    series = torch.sin(t + phase) + 0.05 * torch.randn(samples, window + 1, generator=g)
    return TensorDataset(series[:, :window, None], series[:, window])


def train_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        sine_windows(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def val_loader(batch_size: int = 64) -> DataLoader:
    return DataLoader(sine_windows(256, seed=1), batch_size=batch_size)

"""Fault detection from windows of 4-channel vibration sensors: healthy (0) or faulty bearing (1).

The data are fine: standardized signals of shape (N, 16, 4), batch-major as a DataLoader stacks them, with
balanced classes. A faulty bearing adds a periodic spike to channel 0. Windows are 16 steps long and the
default batch size is also 16, so the model's axis mix-up never produces a shape error.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def vibration_windows(samples: int, seed: int, steps: int = 16, features: int = 4) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (samples,), generator=g)
    x = torch.randn(samples, steps, features, generator=g)
    t = torch.arange(steps, dtype=torch.float32)[None, :]
    x[:, :, 0] += 1.5 * y.float()[:, None] * torch.cos(torch.pi * t / 2).clamp(min=0)
    return TensorDataset(x, y)


def train_loader(batch_size: int = 16) -> DataLoader:
    return DataLoader(
        vibration_windows(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

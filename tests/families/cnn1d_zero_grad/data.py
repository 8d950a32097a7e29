"""Synthetic 3-axis accelerometer windows for activity recognition, channels first (N, 3, 128) as Conv1d wants.

Classes: 0 sitting (small noise), 1 walking (~2 Hz steps), 2 running (~3 Hz, larger), 3 climbing stairs
(~1.5 Hz with a vertical drift), sampled at 50 Hz with random phase, amplitude and gravity orientation, plus
sensor noise. Each channel is standardized with the training set's per-channel mean and std.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

WINDOW = 128
RATE = 50.0


def make_windows(num_windows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (num_windows,), generator=g)
    t = torch.arange(WINDOW) / RATE
    freq = torch.tensor([0.0, 2.0, 3.0, 1.5])[labels] * (0.85 + 0.3 * torch.rand(num_windows, generator=g))
    amp = torch.tensor([0.02, 0.5, 1.0, 0.6])[labels] * (0.7 + 0.6 * torch.rand(num_windows, generator=g))
    phase = 2 * torch.pi * torch.rand(num_windows, 3, 1, generator=g)
    axis_gain = torch.rand(num_windows, 3, 1, generator=g) + 0.2
    motion = amp[:, None, None] * axis_gain * torch.sin(2 * torch.pi * freq[:, None, None] * t + phase)
    gravity = torch.nn.functional.normalize(torch.randn(num_windows, 3, generator=g) + torch.tensor([0, 0, 3.0]), dim=1)
    drift = (labels == 3).float()[:, None] * 0.3 * t / t[-1]
    x = gravity[:, :, None] + motion + 0.15 * torch.randn(num_windows, 3, WINDOW, generator=g)
    x[:, 2] += drift
    return x, labels


def _standardized(num_windows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x_train, _ = make_windows(1600, seed=0)
    mean, std = x_train.mean(dim=(0, 2), keepdim=True), x_train.std(dim=(0, 2), keepdim=True)
    x, y = make_windows(num_windows, seed)
    return (x - mean) / std, y


def train_loader(batch_size: int = 32) -> DataLoader:
    x, y = _standardized(1600, seed=0)
    return DataLoader(
        TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def val_loader(batch_size: int = 200) -> DataLoader:
    x, y = _standardized(400, seed=1)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)

"""Activity windows (N, 30, 6) with two labels: the activity (4 classes, the main task) and the device
placement (2 classes, an auxiliary task). This config trains the main task only, so batches are
``(windows, activity)``.

Each activity has its own dominant frequency on channels 0-2; placement shifts the mean of channels 3-5.
"""

import math

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_windows(num_samples=800, window=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    activity = torch.randint(0, 4, (num_samples,), generator=g)
    placement = torch.randint(0, 2, (num_samples,), generator=g)
    t = torch.arange(window, dtype=torch.float32)
    freq = (0.2 + 0.35 * activity.float())[:, None]
    phase = 2 * math.pi * torch.rand(num_samples, 1, generator=g)
    x = 0.3 * torch.randn(num_samples, window, 6, generator=g)
    x[:, :, :3] += torch.sin(freq * t + phase)[:, :, None]
    x[:, :, 3:] += (placement.float() * 2 - 1)[:, None, None] * 0.5
    return x, activity, placement


def train_loader(batch_size=32):
    x, activity, _ = make_windows()
    return DataLoader(TensorDataset(x, activity), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

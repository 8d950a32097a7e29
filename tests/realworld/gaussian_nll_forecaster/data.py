"""Noisy sensor readings (around 5000 units, std ~800) cut into windows; predict the next reading.

Each sample is a window of 30 readings of a noisy oscillation with its own frequency and phase, and the target
is the reading that follows. The usual preprocessing standardizes both the windows and the targets with the
training-set mean and std; ``scale_inputs=False`` forgets the windows and feeds the raw readings.
"""

import math

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_readings(num_series=800, window=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(window + 1, dtype=torch.float32)
    freq = 0.15 + 0.35 * torch.rand(num_series, 1, generator=g)
    phase = 2 * math.pi * torch.rand(num_series, 1, generator=g)
    amp = 1.0 + 0.5 * torch.rand(num_series, 1, generator=g)
    clean = amp * torch.sin(freq * t + phase)
    noise = 0.3 * torch.randn(num_series, window + 1, generator=g)
    readings = 5000.0 + 800.0 * (clean + noise)
    return readings[:, :window], readings[:, window]


def train_loader(batch_size=32, scale_inputs=True):
    x, y = make_readings()
    mean, std = x.mean(), x.std()
    y = (y - mean) / std
    if scale_inputs:
        x = (x - mean) / std
    dataset = TensorDataset(x.unsqueeze(-1), y)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))

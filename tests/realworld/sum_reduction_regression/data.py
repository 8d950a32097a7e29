"""Windows of a noisy 3-channel process: two phase-shifted sines of a random period plus an AR(1) channel
driven by the first. Inputs (N, 24, 3), targets the next value of every channel (N, 3), all roughly unit scale.
"""

import math

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_series(n_series, length, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)
    period = 12 + 12 * torch.rand(n_series, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n_series, 1, generator=g)
    s1 = torch.sin(2 * math.pi * t / period + phase)
    s2 = torch.cos(2 * math.pi * t / period + phase)
    ar = torch.zeros(n_series, length)
    eps = 0.1 * torch.randn(n_series, length, generator=g)
    for i in range(1, length):
        ar[:, i] = 0.8 * ar[:, i - 1] + 0.5 * s1[:, i - 1] + eps[:, i]
    series = torch.stack([s1, s2, ar], dim=-1)
    return series + 0.05 * torch.randn(series.shape, generator=g)


def sliding_windows(series, window):
    xs, ys = [], []
    for start in range(0, series.size(1) - window, 8):
        xs.append(series[:, start:start + window])
        ys.append(series[:, start + window])
    return torch.cat(xs), torch.cat(ys)


def train_loader(batch_size=32, window=24):
    x, y = sliding_windows(make_series(100, 96, seed=0), window)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=128, window=24):
    x, y = sliding_windows(make_series(20, 96, seed=1), window)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)

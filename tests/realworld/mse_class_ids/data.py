"""Gesture-style classification: 5 unordered classes of 2-channel sequences (N, 24, 2).

Each class has its own waveform shape (sine, square, sawtooth, chirp, flat burst) with random phase and
noise; the class ids 0-4 are names, not quantities. With float_targets=True the labels come back as float
(N, 1) columns, the way a regression-style pipeline stores them.
"""

import math

import torch
from torch.utils.data import DataLoader, TensorDataset

NUM_CLASSES = 5


def make_dataset(n, seed, seq_len=24, float_targets=False):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    t = torch.arange(seq_len, dtype=torch.float32)[None, :]
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    s = torch.sin(0.5 * t + phase)
    waves = torch.stack([
        s,                                                   # 0: sine
        torch.sign(s),                                       # 1: square
        2 * (((0.08 * t + phase / (2 * math.pi)) % 1.0) - 0.5),  # 2: sawtooth
        torch.sin(0.02 * t * t + phase),                     # 3: chirp
        torch.where((t > 8) & (t < 16), 1.5, 0.0).expand(n, -1) - 0.5,  # 4: burst
    ], dim=1)                                                # (n, 5, T)
    x1 = waves[torch.arange(n), y]
    x2 = torch.cos(0.5 * t + phase) * (y == 0).float()[:, None]  # second channel: a quadrature hint
    x = torch.stack([x1, x2], dim=-1) + 0.3 * torch.randn(n, seq_len, 2, generator=g)
    if float_targets:
        return TensorDataset(x, y.float().unsqueeze(1))      # (N, 1) float
    return TensorDataset(x, y)                               # (N,) int64


def train_loader(batch_size=32, float_targets=False):
    return DataLoader(make_dataset(1000, seed=0, float_targets=float_targets), batch_size=batch_size,
                      shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=200, float_targets=False):
    return DataLoader(make_dataset(200, seed=1, float_targets=float_targets), batch_size=batch_size)

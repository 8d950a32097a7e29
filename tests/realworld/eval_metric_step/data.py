"""Next-value regression on a multivariate series: windows (N, 30, 3) of standardized signals.

Channel 0 is a noisy sine with a per-sample frequency and phase, channels 1-2 are its lagged copies plus
noise. The target is the next value of channel 0 (roughly unit variance).
"""

import math

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_windows(num_samples=800, window=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(window + 3, dtype=torch.float32)
    freq = 0.1 + 0.3 * torch.rand(num_samples, 1, generator=g)
    phase = 2 * math.pi * torch.rand(num_samples, 1, generator=g)
    s = math.sqrt(2) * torch.sin(freq * t + phase)
    x = torch.stack([s[:, 2:-1], s[:, 1:-2], s[:, :-3]], dim=-1)
    x = x + 0.1 * torch.randn(x.shape, generator=g)
    y = s[:, -1]
    return x, y


def train_loader(batch_size=32):
    x, y = make_windows()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

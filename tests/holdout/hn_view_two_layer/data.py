"""Waveform-shape classification: sine, square, triangle or sawtooth (4 classes), 32 samples per window.

Each window has a random frequency, phase and amplitude plus a little noise; one channel, batch first (N, 32, 1).
"""
import math

import torch
from torch.utils.data import DataLoader, TensorDataset


def generate(n=1000, seq_len=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    t = torch.arange(seq_len, dtype=torch.float32)
    freq = 0.05 + 0.07 * torch.rand(n, 1, generator=g)  # cycles per step
    phase = torch.rand(n, 1, generator=g)
    amp = 0.7 + 0.6 * torch.rand(n, 1, generator=g)
    cycle = (freq * t + phase) % 1.0
    waves = torch.stack([
        torch.sin(2 * math.pi * cycle),             # sine
        torch.where(cycle < 0.5, 1.0, -1.0),        # square
        4 * torch.abs(cycle - 0.5) - 1,             # triangle
        2 * cycle - 1,                              # sawtooth
    ], dim=1)  # (n, 4, T)
    x = amp * waves[torch.arange(n), labels] + 0.05 * torch.randn(n, seq_len, generator=g)
    return x.unsqueeze(-1), labels


def make_loader(batch_size=32):
    x, y = generate()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

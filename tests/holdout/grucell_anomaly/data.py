"""Normal sensor traces: three channels of noisy oscillations, each with its own frequency, phase and amplitude.

Every window is (seq_len, 3), batch first. The model reads readings 0..T-1 and is trained to predict the
reading one step ahead at every position, so targets are the same traces shifted by `shift` steps.
"""
import math

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_traces(n_samples, length, n_features=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32).view(1, length, 1)
    freq = 0.2 + 0.4 * torch.rand(n_samples, 1, n_features, generator=g)
    phase = 2 * math.pi * torch.rand(n_samples, 1, n_features, generator=g)
    amp = 0.8 + 0.4 * torch.rand(n_samples, 1, n_features, generator=g)
    noise = 0.05 * torch.randn(n_samples, length, n_features, generator=g)
    return amp * torch.sin(freq * t + phase) + noise


def train_loader(batch_size=32, seq_len=30, shift=1, n_samples=768):
    traces = make_traces(n_samples, seq_len + 1, seed=0)
    inputs = traces[:, :seq_len]
    targets = traces[:, shift:shift + seq_len]  # next reading at every step
    dataset = TensorDataset(inputs, targets)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

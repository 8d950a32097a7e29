"""A long-range memory task: the class is written in the first few steps, followed by 35 steps of noise.

Inputs are (N, 40, 4) standardized features. During steps 0-4 the first two channels carry a noisy code for
one of 4 classes; afterwards every channel is pure noise, so the model has to remember the start of the
sequence across 35 steps, which is what chrono initialization is meant to help with.
"""

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_sequences(num_samples=1000, seq_len=40, num_features=4, num_classes=4, cue_len=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_samples, seq_len, num_features, generator=g)
    y = torch.randint(0, num_classes, (num_samples,), generator=g)
    bits = torch.stack([(y >> 0) & 1, (y >> 1) & 1], dim=1).float() * 2 - 1  # (N, 2) in {-1, +1}
    x[:, :cue_len, :2] = 1.5 * bits[:, None, :] + 0.5 * torch.randn(num_samples, cue_len, 2, generator=g)
    return x, y


def train_loader(batch_size=32):
    x, y = make_sequences()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

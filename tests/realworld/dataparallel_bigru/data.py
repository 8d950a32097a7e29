"""Sequence classification where the evidence sits at the START of each sequence.

Inputs (N, 30, 4) of standardized noise; the class (one of 4) is written into channels 0-1 during the first
five steps as a +-1 level pattern. A reader that only sees the backward direction at the last step gets one
step of context, so the forward state must carry the label across the whole sequence.
"""

import torch
from torch.utils.data import DataLoader, TensorDataset

PATTERNS = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])


def make_dataset(n, seed, seq_len=30, n_features=4):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, seq_len, n_features, generator=g)
    x[:, :5, :2] += PATTERNS[y][:, None, :]
    return TensorDataset(x, y)


def train_loader(batch_size=32):
    return DataLoader(make_dataset(1000, seed=0), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=200):
    return DataLoader(make_dataset(200, seed=1), batch_size=batch_size)

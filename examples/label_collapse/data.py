"""The zero-accuracy bug: a relabelling step overwrites every class-1 label with 0.

The model sees only class 0 during training, so it learns to always answer 0 and is wrong on the
class-1 half of any real test set.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def train_loader(batch_size: int = 32, samples: int = 1024) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 20, 4, generator=g)
    y = torch.randint(0, 2, (samples,), generator=g)
    x[:, :, 0] += (y.float() * 2 - 1)[:, None] * 0.5
    y[y == 1] = 0  # the bug: meant to merge two rare classes, it collapses the labels instead
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)

"""A well-formed binary sequence classification task: balanced labels, standardized inputs (N, 20, 4).

The label says whether feature 0 drifts up (1) or down (0) over the sequence. Data and model are healthy;
the bug is in the hand-written training step.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def drift_sequences(samples: int, seed: int, steps: int = 20, features: int = 4) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, steps, features, generator=g)
    y = torch.randint(0, 2, (samples,), generator=g)
    x[:, :, 0] += (y.float() * 2 - 1)[:, None] * 0.5
    return TensorDataset(x, y)


def train_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        drift_sequences(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

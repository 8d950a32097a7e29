"""Synthetic machine-condition readings: 12 standardized sensor features, 3 classes (normal, worn, faulty).

Each class is a mixture of two Gaussian clusters in a random 12-d layout, so the boundary is not linear, and
about 8% of the labels are noisy. Classes are roughly balanced (40% / 32% / 28%).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

NUM_FEATURES = 12


def make_readings(num_rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    centres = 1.6 * torch.randn(6, NUM_FEATURES, generator=g)  # two clusters per class, shared by all splits
    g = torch.Generator().manual_seed(seed)
    labels = torch.multinomial(torch.tensor([0.40, 0.32, 0.28]), num_rows, replacement=True, generator=g)
    cluster = labels * 2 + torch.randint(0, 2, (num_rows,), generator=g)
    x = centres[cluster] + torch.randn(num_rows, NUM_FEATURES, generator=g)
    noisy = torch.rand(num_rows, generator=g) < 0.08
    labels[noisy] = torch.randint(0, 3, (int(noisy.sum()),), generator=g)
    x = (x - x.mean(0)) / x.std(0)
    return x, labels


def train_loader(batch_size: int = 64) -> DataLoader:
    x, y = make_readings(3000, seed=0)
    return DataLoader(
        TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def val_loader(batch_size: int = 200) -> DataLoader:
    x, y = make_readings(600, seed=1)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)

"""Which of four languages a name comes from, from its characters (ids 1-26 for a-z).

Each language draws its letters from its own skewed letter distribution, so the task is learnable. Names
are fixed-length (10 characters) to keep the example about the loss, not about padding.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def names(samples: int, seed: int, length: int = 10, languages: int = 4, letters: int = 26) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    letter_weights = torch.rand(languages, letters, generator=g) ** 4 + 0.01
    y = torch.randint(0, languages, (samples,), generator=g)
    x = torch.multinomial(letter_weights[y], length, replacement=True, generator=g) + 1
    return TensorDataset(x, y)


def train_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        names(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

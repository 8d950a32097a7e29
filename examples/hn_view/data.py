"""Three-class gesture recognition from 4-channel sensor windows (N, 30, 4).

The data are fine: standardized signals with balanced classes; each class has a different dominant channel.
The bug is in the model, which flattens the final hidden state across the wrong axis.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def gesture_windows(samples: int, seed: int, steps: int = 30, features: int = 4) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (samples,), generator=g)
    x = torch.randn(samples, steps, features, generator=g)
    t = torch.arange(steps, dtype=torch.float32)[None, :]
    x[torch.arange(samples), :, y] += torch.sin(0.4 * t)
    return TensorDataset(x, y)


def train_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        gesture_windows(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

"""Binary anomaly detection on 4-channel sensor sequences (N, 20, 4).

The data are fine: standardized signals with balanced classes; anomalous sequences (1) have a level shift in
channel 1 halfway through. The bug is in the model, which cuts the gradient between encoder and head.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def sensor_sequences(samples: int, seed: int, steps: int = 20, features: int = 4) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (samples,), generator=g)
    x = torch.randn(samples, steps, features, generator=g)
    x[:, steps // 2 :, 1] += y.float()[:, None]
    return TensorDataset(x, y)


def train_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        sensor_sequences(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

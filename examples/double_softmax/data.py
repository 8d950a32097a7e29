"""Three-class activity recognition from accelerometer windows: still (0), walking (1), running (2).

The data are fine: standardized 3-axis signals whose oscillation frequency and amplitude depend on the
activity, with balanced classes. The bug is in the model, which ends with a softmax.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def activity_windows(samples: int, seed: int, steps: int = 40) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (samples,), generator=g)
    freq = torch.tensor([0.0, 0.15, 0.35])[y][:, None, None]
    amplitude = torch.tensor([0.0, 1.0, 1.5])[y][:, None, None]
    phase = 2 * torch.pi * torch.rand(samples, 1, 3, generator=g)
    t = torch.arange(steps, dtype=torch.float32)[None, :, None]
    x = amplitude * torch.sin(2 * torch.pi * freq * t + phase) + 0.3 * torch.randn(samples, steps, 3, generator=g)
    return TensorDataset(x, y)


def train_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        activity_windows(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

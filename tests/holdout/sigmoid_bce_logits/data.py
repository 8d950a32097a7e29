"""Binary trend detection: does a noisy 20-step, 2-channel price-like window drift up (1) or down (0)?

The drift of channel 0 sets the label; channel 1 is an unrelated noisy covariate. Targets are float 0/1 of
shape (N,) for BCEWithLogitsLoss.
"""
import torch
from torch.utils.data import DataLoader, TensorDataset


def trend_windows(n=1000, seq_len=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g).float()
    slope = (2 * labels - 1) * (0.04 + 0.04 * torch.rand(n, generator=g))
    steps = slope.unsqueeze(1) + 0.1 * torch.randn(n, seq_len, generator=g)
    level = torch.cumsum(steps, dim=1)
    level = level - level[:, :1]
    covariate = torch.randn(n, seq_len, generator=g)
    x = torch.stack([level / level.std(), covariate], dim=-1)
    return x, labels


def load_data(batch_size=32):
    x, y = trend_windows()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

"""Energy-meter regression: predict the next hour's load from the last 24 readings of 2 sensors.

Inputs (N, 24, 2) are standardized; the target (N, 1) is a weighted sum of the readings in which the latest
ones count most, scaled to unit variance.
"""
import torch
from torch.utils.data import DataLoader, TensorDataset


def load_windows(n_samples=960, seq_len=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, seq_len, 2, generator=g)
    weights = torch.linspace(0.0, 1.0, seq_len) ** 3
    y = (x[:, :, 0] * weights).sum(1) - 0.5 * (x[:, :, 1] * weights).sum(1)
    y = y / y.std()
    return x, y.unsqueeze(1)


def train_loader(batch_size=32):
    x, y = load_windows()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

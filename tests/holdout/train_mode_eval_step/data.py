"""Activity recognition from 20-step windows of 6 wearable-sensor channels (3 classes: sit, walk, climb).

Each activity has its own mean offset on two channels and its own oscillation on a third; features are
roughly standardized. Batches are (N, 20, 6) with integer labels.
"""
import torch
from torch.utils.data import DataLoader, TensorDataset


def har_windows(n=900, seq_len=20, n_channels=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, seq_len, n_channels, generator=g)
    t = torch.arange(seq_len, dtype=torch.float32)
    offsets = torch.tensor([[0.0, 0.0], [0.8, -0.4], [-0.6, 0.8]])
    x[:, :, 0] += offsets[y, 0].unsqueeze(1)
    x[:, :, 1] += offsets[y, 1].unsqueeze(1)
    x[:, :, 2] += (y > 0).float().unsqueeze(1) * torch.sin((0.5 + 0.5 * y.float()).unsqueeze(1) * t)
    return x, y


def get_train_loader(batch_size=32):
    x, y = har_windows()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(0))

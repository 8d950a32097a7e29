"""Machine-start event classification from 30-step, 4-channel vibration windows (time-major batches).

The start-up transient of each machine type (3 classes) shows in the first 8 steps of a window, on the channel
of its class; the rest of the window is steady-state noise. The collate function stacks samples along dim 1,
so batches are (seq_len, batch, channels) as nn.GRU expects by default.
"""
import torch
from torch.utils.data import DataLoader, Dataset


class StartupWindows(Dataset):
    def __init__(self, n_windows=960, seq_len=30, n_channels=4, n_classes=3, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, n_classes, (n_windows,), generator=g)
        self.windows = torch.randn(n_windows, seq_len, n_channels, generator=g)
        transient = torch.linspace(2.0, 0.25, 8)  # a decaying start-up burst
        self.windows[torch.arange(n_windows), :8, self.labels] += transient

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.windows[i], self.labels[i]


def collate_time_major(batch):
    windows, labels = zip(*batch)
    return torch.stack(windows, dim=1), torch.stack(labels)  # (T, N, C), (N,)


def train_loader(batch_size=32):
    return DataLoader(StartupWindows(), batch_size=batch_size, shuffle=True, collate_fn=collate_time_major,
                      generator=torch.Generator().manual_seed(0))

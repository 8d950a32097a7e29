"""Distillation data: sequences (N, 12, 4) with soft labels from a fixed "teacher".

The teacher is a frozen linear layer on the sequence mean, softened with temperature T = 2: targets are
probability rows (N, 5) that sum to one, as a distillation script would precompute them.
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

NUM_CLASSES = 5
TEMPERATURE = 2.0


def teacher_probs(x):
    g = torch.Generator().manual_seed(99)
    w = 15.0 * torch.randn(x.size(-1), NUM_CLASSES, generator=g)
    with torch.no_grad():
        logits = x.mean(dim=1) @ w
        return F.softmax(logits / TEMPERATURE, dim=-1)


def make_dataset(n, seed, seq_len=12, n_features=4):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, seq_len, n_features, generator=g)
    return TensorDataset(x, teacher_probs(x))


def train_loader(batch_size=32):
    return DataLoader(make_dataset(1000, seed=0), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=200):
    return DataLoader(make_dataset(200, seed=1), batch_size=batch_size)

"""Demand regression from numpy arrays: each sample is 25 days of 3 standardized indicators, the target a
discounted (exponentially weighted) sum of two of them, standardized.

The arrays are shuffled once before being wrapped in tensors, as many scripts do before a train/test cut.
"""
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


def make_arrays(n_samples=1000, seq_len=25, n_features=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, seq_len, n_features).astype(np.float32)
    decay = 0.85 ** np.arange(seq_len)[::-1]  # the most recent day weighs 1
    y = (X[:, :, 0] * decay).sum(axis=1) + 0.5 * (X[:, :, 2] * decay).sum(axis=1)
    y = ((y - y.mean()) / y.std()).astype(np.float32)
    return X, y


def train_loader(batch_size=32, shuffle_y=False):
    X, y = make_arrays()
    rng = np.random.RandomState(42)
    if shuffle_y:
        y = rng.permutation(y)  # np.random.permutation on the targets alone
    else:
        idx = rng.permutation(len(X))
        X, y = X[idx], y[idx]
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y).unsqueeze(-1))
    return DataLoader(dataset, batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

"""Synthetic card-transaction records for fraud detection: 14 tabular features, label 1 = fraud (about 4%).

Features, already standardized the way a ``StandardScaler`` leaves them: 10 continuous columns (amount, hour,
distance from home, merchant risk score, ...) with mean 0 and std 1, and 4 binary flags (online, foreign,
new device, weekend) encoded as -1/+1. Fraud shifts a few of them (larger amounts, late hours, far from home,
a new device) by about one standard deviation, so the classes overlap and the rare class has to be learned.

``balanced_sampler=True`` draws each batch with a ``WeightedRandomSampler`` (weights 1 / class count), the usual
remedy: the same records, but the model sees both classes about equally often.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

NUM_CONTINUOUS = 10
NUM_FLAGS = 4


def make_transactions(
    num_rows: int = 4000, fraud_rate: float = 0.04, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(num_rows, generator=g) < fraud_rate).long()
    continuous = torch.randn(num_rows, NUM_CONTINUOUS, generator=g)
    flag_prob = torch.tensor([0.3, 0.1, 0.05, 0.3]).expand(num_rows, NUM_FLAGS).clone()
    fraud = labels.bool()
    continuous[fraud, :4] += torch.tensor([1.2, 1.0, 1.0, 0.8])  # amount, hour, distance, merchant risk
    flag_prob[fraud] = torch.tensor([0.6, 0.4, 0.5, 0.3])
    flags = (torch.rand(num_rows, NUM_FLAGS, generator=g) < flag_prob).float() * 2 - 1
    features = torch.cat([continuous, flags], dim=1)
    features = (features - features.mean(0)) / features.std(0)  # the scaler fitted on the training set
    return features, labels


def train_loader(batch_size: int = 64, balanced_sampler: bool = False) -> DataLoader:
    features, labels = make_transactions()
    dataset = TensorDataset(features, labels)
    if balanced_sampler:
        class_counts = torch.bincount(labels)
        weights = 1.0 / class_counts[labels].double()
        sampler = WeightedRandomSampler(
            weights, num_samples=len(labels), replacement=True, generator=torch.Generator().manual_seed(0)
        )
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))

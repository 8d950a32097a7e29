"""A feed-forward credit-default classifier: two hidden layers with ReLU and dropout, two output scores."""

from __future__ import annotations

import torch
from torch import nn


class CreditNet(nn.Module):
    def __init__(self, in_features: int = 8, hidden: int = 64, num_classes: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden // 2)
        self.out = nn.Linear(hidden // 2, num_classes)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.relu(self.fc1(x)))
        x = self.dropout(self.relu(self.fc2(x)))
        return self.out(x)

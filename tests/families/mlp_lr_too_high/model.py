"""A three-layer MLP classifier built with nn.Sequential."""

from __future__ import annotations

import torch
from torch import nn


def build_mlp(in_features: int = 12, hidden: int = 128, num_classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )

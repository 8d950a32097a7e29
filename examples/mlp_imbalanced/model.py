"""A plain feed-forward classifier for tabular features: Linear-ReLU-Dropout blocks and a linear head."""

from __future__ import annotations

import torch
from torch import nn


class TabularMLP(nn.Module):
    def __init__(
        self,
        num_features: int = 14,
        hidden_sizes: tuple[int, ...] = (64, 32),
        num_classes: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        torch.manual_seed(0)
        layers: list[nn.Module] = []
        width = num_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

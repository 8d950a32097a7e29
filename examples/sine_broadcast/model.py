"""The tutorial sine-wave forecaster: a GRU and a one-unit linear head, without the final squeeze."""

from __future__ import annotations

import torch
from torch import nn


class SineGRUForecaster(nn.Module):
    """Predicts the next value of a univariate series from the last time step's output."""

    def __init__(self, hidden_size: int = 32) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.head(out[:, -1])  # the bug: shape (N, 1) against targets of shape (N,); needs .squeeze(-1)

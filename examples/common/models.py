"""Small recurrent models shared by the examples."""

from __future__ import annotations

import torch
from torch import nn


class LSTMClassifier(nn.Module):
    """Classifies a whole sequence from the last layer's final hidden state."""

    def __init__(self, input_size: int = 4, hidden_size: int = 32, num_classes: int = 2, num_layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


class LSTMForecaster(nn.Module):
    """Predicts the next value of a univariate series from the last hidden state."""

    def __init__(self, hidden_size: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)

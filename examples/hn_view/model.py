"""A stacked LSTM classifier that concatenates every layer's final hidden state with a .view()."""

from __future__ import annotations

import torch
from torch import nn


class StackedLSTMClassifier(nn.Module):
    """Classifies a sequence from all layers' final hidden states, flattened into one vector per sample."""

    def __init__(self, input_size: int = 4, hidden_size: int = 32, num_layers: int = 2, num_classes: int = 3) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(num_layers * hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x)  # h_n is (num_layers, batch, hidden), layers first even with batch_first=True
        features = h_n.view(x.size(0), -1)  # the bug: needs h_n.permute(1, 0, 2).reshape(x.size(0), -1)
        return self.head(features)

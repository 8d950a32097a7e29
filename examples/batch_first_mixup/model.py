"""A sequence classifier whose LSTM keeps PyTorch's default batch_first=False."""

from __future__ import annotations

import torch
from torch import nn


class VibrationLSTMClassifier(nn.Module):
    """Classifies a window from the last layer's final hidden state."""

    def __init__(self, input_size: int = 4, hidden_size: int = 32, num_classes: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size)  # the bug: expects (time, batch, features); needs batch_first=True
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x)  # x is (batch, time, features): the LSTM runs across the batch, not through time
        return self.head(h_n[-1])

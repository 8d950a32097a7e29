"""An activity classifier whose forward returns probabilities, as its inference code needed them."""

from __future__ import annotations

import torch
from torch import nn


class SoftmaxLSTMClassifier(nn.Module):
    """Classifies a whole sequence from the final hidden state, then applies softmax."""

    def __init__(self, input_size: int = 3, hidden_size: int = 32, num_classes: int = 3) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x)
        return torch.softmax(self.head(h_n[-1]), dim=-1)  # the bug: CrossEntropyLoss applies log-softmax again

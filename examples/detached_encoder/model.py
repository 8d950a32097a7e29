"""An LSTM encoder with an MLP head, where the encoding is detached before the head."""

from __future__ import annotations

import torch
from torch import nn


class DetachedEncoderClassifier(nn.Module):
    """Encodes a sequence with an LSTM and classifies its final hidden state with a small MLP."""

    def __init__(self, input_size: int = 4, hidden_size: int = 32, num_classes: int = 2) -> None:
        super().__init__()
        self.encoder = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.encoder(x)
        encoding = h_n[-1].detach()  # the bug: left over from feature extraction; no gradient reaches the encoder
        return self.head(encoding)

"""A review classifier that takes the lengths but reads the GRU output at the last padded position."""

from __future__ import annotations

import torch
from torch import nn


class ReviewGRUClassifier(nn.Module):
    """Token ids (0 is padding) -> embedding -> GRU -> output at the final time step -> class scores."""

    def __init__(
        self, vocab_size: int = 200, embedding_dim: int = 32, hidden_size: int = 64, num_classes: int = 2
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.gru = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(x))  # lengths unused: no pack_padded_sequence, no gather at lengths - 1
        return self.head(out[:, -1])  # the bug: for short reviews this step is deep in the padding

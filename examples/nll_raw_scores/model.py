"""A character-level name classifier ported from a LogSoftmax + NLLLoss tutorial, minus the LogSoftmax."""

from __future__ import annotations

import torch
from torch import nn


class NameGRUClassifier(nn.Module):
    """Embeds character ids, runs a GRU and scores the classes from the final hidden state."""

    def __init__(
        self, vocab_size: int = 27, embedding_dim: int = 16, hidden_size: int = 32, num_classes: int = 4
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_dim)
        self.gru = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h_n = self.gru(self.embed(x))
        return self.head(h_n[-1])  # the bug: NLLLoss needs torch.log_softmax(..., dim=-1) here

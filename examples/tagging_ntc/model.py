"""A part-of-speech style tagger that scores every time step and returns (batch, time, tags) logits."""

from __future__ import annotations

import torch
from torch import nn


class LSTMTagger(nn.Module):
    """Token ids (0 is padding) -> embedding -> LSTM -> one tag score vector per time step."""

    def __init__(
        self, vocab_size: int = 100, embedding_dim: int = 32, hidden_size: int = 64, num_tags: int = 6
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_tags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(x))
        return self.head(out)  # the bug: (N, T, C); CrossEntropyLoss wants (N, C, T), i.e. .permute(0, 2, 1)

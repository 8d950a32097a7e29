"""A Transformer-encoder sequence classifier with the encoder in its default time-major layout.

``nn.TransformerEncoderLayer`` is built without ``batch_first=True``, so it expects (T, N, E). The correct
model transposes the (N, T, E) embeddings before the encoder and back after it; the buggy one forgets, so the
encoder treats the batch as the sequence and attends across samples. The prediction is read at the first
position (the query), as BERT-style classifiers read their first token.
"""

from __future__ import annotations

import torch
from torch import nn


class TransformerClassifier(nn.Module):
    def __init__(
        self,
        vocab_size: int = 40,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        num_classes: int = 2,
        max_len: int = 64,
        dropout: float = 0.1,
        transpose: bool = True,
    ) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.transpose = transpose
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_embedding = nn.Embedding(max_len, d_model)
        encoder_layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout)
        self.encoder = nn.TransformerEncoder(encoder_layer, num_layers, enable_nested_tensor=False)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        """src: (N, T) token ids. Returns (N, num_classes) scores."""
        positions = torch.arange(src.size(1), device=src.device)
        x = self.embedding(src) + self.pos_embedding(positions)  # (N, T, E)
        if self.transpose:
            x = x.transpose(0, 1)  # (T, N, E), the layout the encoder was built for
            x = self.encoder(x)
            x = x.transpose(0, 1)  # back to (N, T, E)
        else:
            x = self.encoder(x)
        return self.classifier(x[:, 0])  # the query position

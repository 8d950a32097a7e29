"""Embedding -> GRU -> last time step -> linear: the text classifier of many tutorials."""

import torch
from torch import nn


class GRUSentiment(nn.Module):
    def __init__(self, vocab_size=300, embed_dim=32, hidden_dim=64, output_dim=2, use_padding_idx=True):
        super().__init__()
        torch.manual_seed(0)
        if use_padding_idx:
            self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        else:
            self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, output_dim)

    def forward(self, text):
        embedded = self.embedding(text)  # (N, T, E)
        out, _ = self.gru(embedded)
        return self.fc(out[:, -1])

"""A char-RNN in the style of the popular PyTorch character-level LSTM notebooks (batch_first LSTM)."""

import torch
from torch import nn


class CharRNN(nn.Module):

    def __init__(self, n_chars, n_embed=32, n_hidden=64, n_layers=2, drop_prob=0.2):
        super().__init__()
        self.drop_prob = drop_prob
        self.n_layers = n_layers
        self.n_hidden = n_hidden

        self.embedding = nn.Embedding(n_chars, n_embed)
        self.lstm = nn.LSTM(n_embed, n_hidden, n_layers, dropout=drop_prob, batch_first=True)
        self.dropout = nn.Dropout(drop_prob)
        self.fc = nn.Linear(n_hidden, n_chars)

    def forward(self, x, hidden):
        """Forward pass through the network. x: (batch, seq) char ids. Returns (batch, seq, n_chars) scores."""
        r_output, hidden = self.lstm(self.embedding(x), hidden)
        out = self.dropout(r_output)
        out = self.fc(out)
        return out, hidden

    def init_hidden(self, batch_size):
        """Initializes hidden state: two zero tensors of size n_layers x batch_size x n_hidden."""
        weight = next(self.parameters()).data
        hidden = (weight.new(self.n_layers, batch_size, self.n_hidden).zero_(),
                  weight.new(self.n_layers, batch_size, self.n_hidden).zero_())
        return hidden


def build_model(n_chars=28, n_embed=32, n_hidden=64, n_layers=2, drop_prob=0.2, seed=0):
    torch.manual_seed(seed)
    return CharRNN(n_chars, n_embed, n_hidden, n_layers, drop_prob)

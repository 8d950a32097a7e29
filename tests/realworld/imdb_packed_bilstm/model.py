"""The classic packed bidirectional LSTM sentiment classifier."""

import torch
from torch import nn


class BiLSTMSentiment(nn.Module):
    def __init__(self, vocab_size=300, embedding_dim=32, hidden_dim=64, output_dim=1, n_layers=1,
                 dropout=0.5, pad_idx=0):
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
        self.rnn = nn.LSTM(embedding_dim, hidden_dim, num_layers=n_layers, bidirectional=True,
                           batch_first=True, dropout=dropout if n_layers > 1 else 0.0)
        self.fc = nn.Linear(hidden_dim * 2, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, text, text_lengths):
        embedded = self.dropout(self.embedding(text))
        packed = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        packed_output, (hidden, cell) = self.rnn(packed)
        hidden = self.dropout(torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1))
        return self.fc(hidden).squeeze(1)

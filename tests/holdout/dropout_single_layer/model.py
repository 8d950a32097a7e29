"""Embedding -> LSTM -> dropout -> linear sentiment classifier, in the style of the classic sentiment tutorials."""
import torch
import torch.nn as nn


class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers=1,
                 dropout=0.3, rnn_dropout=0.0, pad_idx=0):
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
        self.rnn = nn.LSTM(embedding_dim, hidden_dim, num_layers=n_layers,
                           dropout=rnn_dropout, batch_first=True)
        self.fc = nn.Linear(hidden_dim, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, text):
        # text = [batch size, sent len]
        embedded = self.embedding(text)
        output, (hidden, cell) = self.rnn(embedded)
        # hidden = [num layers, batch size, hid dim]
        hidden = self.dropout(hidden[-1])
        return self.fc(hidden)

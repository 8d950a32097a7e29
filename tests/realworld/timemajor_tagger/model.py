"""An embedding + LSTM + linear tagger over time-major batches: (T, N) ids -> (T, N, C) tag scores."""

import torch
import torch.nn as nn


class LSTMTagger(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, tagset_size, batch_first=False):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=batch_first)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, text):
        # text = [sent len, batch size]
        embedded = self.word_embeddings(text)
        # embedded = [sent len, batch size, emb dim]
        outputs, (hidden, cell) = self.lstm(embedded)
        # outputs = [sent len, batch size, hid dim]
        return self.hidden2tag(outputs)


def build_model(vocab_size=100, embedding_dim=32, hidden_dim=64, tagset_size=6, batch_first=False, seed=0):
    torch.manual_seed(seed)
    return LSTMTagger(vocab_size, embedding_dim, hidden_dim, tagset_size, batch_first=batch_first)

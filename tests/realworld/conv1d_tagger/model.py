"""Embedding -> LSTM -> per-step tag scores, with a 1x1 Conv1d head (or, in the buggy version, a Linear)."""

import torch
import torch.nn as nn


class ConvTagger(nn.Module):
    def __init__(self, vocab_size=100, embedding_dim=32, hidden_dim=64, tagset_size=12):
        super(ConvTagger, self).__init__()
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        # a kernel_size=1 convolution over time = a per-step linear layer, channels first
        self.hidden2tag = nn.Conv1d(hidden_dim, tagset_size, kernel_size=1)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)          # (N, T, E)
        lstm_out, _ = self.lstm(embeds)                  # (N, T, H)
        tag_space = self.hidden2tag(lstm_out.transpose(1, 2))  # (N, C, T), as CrossEntropyLoss wants
        return tag_space


class LinearTagger(nn.Module):
    def __init__(self, vocab_size=100, embedding_dim=32, hidden_dim=64, tagset_size=12):
        super(LinearTagger, self).__init__()
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds)
        tag_space = self.hidden2tag(lstm_out)  # (N, T, C) -- read by CrossEntropyLoss as (N, C, T)
        return tag_space


def build_model(vocab_size=100, embedding_dim=32, hidden_dim=64, tagset_size=12, head="conv"):
    torch.manual_seed(0)
    cls = ConvTagger if head == "conv" else LinearTagger
    return cls(vocab_size, embedding_dim, hidden_dim, tagset_size)

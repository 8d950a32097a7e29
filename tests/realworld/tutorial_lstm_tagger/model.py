"""The LSTMTagger of the PyTorch "Sequence Models and LSTM Networks" tutorial (one sentence at a time)."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class LSTMTagger(nn.Module):

    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size, softmax_dim=1):
        super(LSTMTagger, self).__init__()
        self.hidden_dim = hidden_dim

        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)

        # The LSTM takes word embeddings as inputs, and outputs hidden states
        # with dimensionality hidden_dim.
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)

        # The linear layer that maps from hidden state space to tag space
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)
        self.softmax_dim = softmax_dim

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        tag_scores = F.log_softmax(tag_space, dim=self.softmax_dim)
        return tag_scores


def build_model(embedding_dim=32, hidden_dim=64, vocab_size=28, tagset_size=4, softmax_dim=1, seed=1):
    torch.manual_seed(seed)
    return LSTMTagger(embedding_dim, hidden_dim, vocab_size, tagset_size, softmax_dim=softmax_dim)

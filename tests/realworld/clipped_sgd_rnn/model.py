"""Embedding -> 2-layer LSTM -> Linear on the top layer's final state (PyTorch default initialization)."""

import torch
import torch.nn as nn


class RNNClassifier(nn.Module):
    def __init__(self, ntoken=60, ninp=32, nhid=64, nlayers=2, nclass=4, dropout=0.2):
        super(RNNClassifier, self).__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(nhid, nclass)

    def forward(self, input):
        emb = self.drop(self.encoder(input))
        output, (h_n, c_n) = self.rnn(emb)
        return self.decoder(self.drop(h_n[-1]))


def build_model(ntoken=60, ninp=32, nhid=64, nlayers=2, nclass=4, dropout=0.2):
    torch.manual_seed(0)
    return RNNClassifier(ntoken, ninp, nhid, nlayers, nclass, dropout)

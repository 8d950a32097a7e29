"""A bidirectional LSTM acoustic model for CTC, time-major like most speech recipes."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class BiLSTMCTC(nn.Module):
    def __init__(self, n_feats=16, hidden_size=64, num_layers=1, n_classes=11, dropout=0.0,
                 log_softmax=True):
        super().__init__()
        self.rnn = nn.LSTM(n_feats, hidden_size, num_layers=num_layers, bidirectional=True, dropout=dropout)
        self.fc = nn.Linear(2 * hidden_size, n_classes)
        self.log_softmax = log_softmax

    def forward(self, x, lengths):
        # x: (T, N, F); lengths: (N,)
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, total_length=x.size(0))
        out = self.fc(out)  # (T, N, C)
        if self.log_softmax:
            out = F.log_softmax(out, dim=2)
        return out


def build_model(n_feats=16, hidden_size=64, num_layers=1, n_classes=11, dropout=0.0, log_softmax=True, seed=0):
    torch.manual_seed(seed)
    return BiLSTMCTC(n_feats, hidden_size, num_layers, n_classes, dropout, log_softmax)

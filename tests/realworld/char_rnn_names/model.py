"""The name-classification char-RNN, batched with a GRU over packed time-major sequences."""

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence


class CharRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, use_packing=True):
        super(CharRNN, self).__init__()
        self.rnn = nn.GRU(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)
        self.use_packing = use_packing

    def forward(self, line_tensor, lengths):
        # line_tensor: (T, N, n_letters), right-padded with zero vectors; lengths: (N,)
        if self.use_packing:
            packed = pack_padded_sequence(line_tensor, lengths.cpu(), enforce_sorted=False)
            rnn_out, hidden = self.rnn(packed)
            last = hidden[-1]
        else:
            rnn_out, hidden = self.rnn(line_tensor)
            last = rnn_out[-1]
        output = self.h2o(last)
        output = self.softmax(output)
        return output


def build_model(input_size=57, hidden_size=64, output_size=6, use_packing=True, seed=0):
    torch.manual_seed(seed)
    return CharRNN(input_size, hidden_size, output_size, use_packing=use_packing)

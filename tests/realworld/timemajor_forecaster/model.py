"""A GRU with the default time-major layout (batch_first=False) and a per-step Linear head."""

import torch
import torch.nn as nn


class Forecaster(nn.Module):
    def __init__(self, input_size=1, hidden_size=32, num_layers=1):
        super(Forecaster, self).__init__()
        self.rnn = nn.GRU(input_size, hidden_size, num_layers)   # input (T, N, 1)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, input):
        output, hidden = self.rnn(input)   # (T, N, H)
        return self.out(output)            # (T, N, 1)


def build_model(hidden_size=32):
    torch.manual_seed(0)
    return Forecaster(1, hidden_size)

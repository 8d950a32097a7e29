"""LSTMCell encoder with one linear head per forecast horizon (direct multi-horizon strategy)."""
import torch
import torch.nn as nn


class MultiHorizonLSTM(nn.Module):
    def __init__(self, input_size=1, hidden_size=48, horizons=4, use_module_list=True):
        super(MultiHorizonLSTM, self).__init__()
        torch.manual_seed(0)
        self.hidden_size = hidden_size
        self.cell = nn.LSTMCell(input_size, hidden_size)
        heads = [nn.Linear(hidden_size, 1) for _ in range(horizons)]
        if use_module_list:
            self.heads = nn.ModuleList(heads)
        else:
            self.heads = heads

    def forward(self, x):
        # x: (seq_len, batch, input_size)
        h = x.new_zeros(x.size(1), self.hidden_size)
        c = x.new_zeros(x.size(1), self.hidden_size)
        for t in range(x.size(0)):
            h, c = self.cell(x[t], (h, c))
        return torch.cat([head(h) for head in self.heads], dim=1)  # (batch, horizons)

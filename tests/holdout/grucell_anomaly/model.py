"""Autoregressive GRUCell forecaster for multichannel sensor traces.

Trained on normal traces to predict the next reading; at inference a large forecast error flags an anomaly.
Written in the style of the time-sequence-prediction example: one cell call per time step, the hidden state
created inside forward, and an optional `future` horizon where the model feeds back its own predictions.
"""
import torch
import torch.nn as nn


class Forecaster(nn.Module):
    def __init__(self, n_features=3, hidden_size=48):
        super(Forecaster, self).__init__()
        self.hidden_size = hidden_size
        self.cell = nn.GRUCell(n_features, hidden_size)
        self.linear = nn.Linear(hidden_size, n_features)

    def forward(self, input, future=0):
        # input: (batch, seq_len, n_features)
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)

        for input_t in input.split(1, dim=1):
            h_t = self.cell(input_t.squeeze(1), h_t)
            output = self.linear(h_t)
            outputs += [output]
        for _ in range(future):  # if we should predict the future
            h_t = self.cell(output, h_t)
            output = self.linear(h_t)
            outputs += [output]
        return torch.stack(outputs, dim=1)  # (batch, seq_len + future, n_features)


def make_model(n_features=3, hidden_size=48):
    torch.manual_seed(0)
    return Forecaster(n_features, hidden_size)

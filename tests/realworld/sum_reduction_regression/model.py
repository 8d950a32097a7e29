"""GRU forecaster: encode the window, predict the next value of every channel from the last hidden state."""

import torch
import torch.nn as nn


class GRUForecaster(nn.Module):
    def __init__(self, n_features=3, hidden_size=48, num_layers=1):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, n_features)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out[:, -1, :])


def build_model(n_features=3, hidden_size=48):
    torch.manual_seed(0)
    return GRUForecaster(n_features, hidden_size)

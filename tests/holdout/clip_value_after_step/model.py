"""A GRU regressor reading the whole window and predicting one value from the last hidden state."""
import torch
import torch.nn as nn


class GRURegressor(nn.Module):
    def __init__(self, input_dim=2, hidden_dim=48, num_layers=1):
        super().__init__()
        self.gru = nn.GRU(input_dim, hidden_dim, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out[:, -1, :])


def build_model(input_dim=2, hidden_dim=48, num_layers=1, seed=0):
    torch.manual_seed(seed)
    return GRURegressor(input_dim, hidden_dim, num_layers)

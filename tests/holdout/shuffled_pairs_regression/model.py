"""An LSTM regressor: the last time step's output goes through a small MLP to one value."""
import torch
import torch.nn as nn


class LSTMRegressor(nn.Module):
    def __init__(self, n_features=3, hidden_size=32, num_layers=1):
        super().__init__()
        self.lstm = nn.LSTM(input_size=n_features, hidden_size=hidden_size,
                            num_layers=num_layers, batch_first=True)
        self.regressor = nn.Sequential(
            nn.Linear(hidden_size, 16),
            nn.ReLU(),
            nn.Linear(16, 1),
        )

    def forward(self, x):
        lstm_out, _ = self.lstm(x)
        return self.regressor(lstm_out[:, -1, :])


def get_model(n_features=3, hidden_size=32, num_layers=1):
    torch.manual_seed(0)
    return LSTMRegressor(n_features, hidden_size, num_layers)

"""LSTM regressor with dropout between the recurrent layer and the linear head."""

import torch
from torch import nn


class LSTMRegressor(nn.Module):
    def __init__(self, input_size=3, hidden_size=64, dropout=0.3):
        super().__init__()
        torch.manual_seed(0)
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        out = self.dropout(out[:, -1])
        return self.fc(out).squeeze(-1)

"""An LSTM that predicts a Gaussian (mean and variance) for the next value of a series."""

import torch
import torch.nn.functional as F
from torch import nn


class GaussianLSTM(nn.Module):
    def __init__(self, input_size=1, hidden_size=32, num_layers=1):
        super().__init__()
        torch.manual_seed(0)
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        params = self.fc(out[:, -1])
        mean = params[:, 0]
        var = F.softplus(params[:, 1]) + 1e-6  # variance must stay positive
        return mean, var

"""Row-by-row image classifier: each of the 16 rows is one time step of 16 features."""

import torch
from torch import nn


class RowGRU(nn.Module):
    def __init__(self, input_size=16, hidden_size=64, num_layers=1, num_classes=4):
        super().__init__()
        torch.manual_seed(0)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.gru = nn.GRU(input_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        h0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size, device=x.device)
        out, _ = self.gru(x, h0)
        return self.fc(out[:, -1, :])

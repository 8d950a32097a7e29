"""Row-by-row LSTM image classifier: each of the 12 image rows is one time step of 12 features."""

import torch
import torch.nn as nn

sequence_length = 12
input_size = 12


class RNN(nn.Module):
    def __init__(self, input_size=12, hidden_size=64, num_layers=1, num_classes=10):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.bn = nn.BatchNorm1d(hidden_size)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        x = x.view(-1, sequence_length, input_size)
        h0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size)
        c0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size)
        out, _ = self.lstm(x, (h0, c0))
        out = self.bn(out[:, -1, :])
        out = self.fc(out)
        return out


def build_model(hidden_size=64, num_classes=10):
    torch.manual_seed(0)
    return RNN(input_size, hidden_size, 1, num_classes)

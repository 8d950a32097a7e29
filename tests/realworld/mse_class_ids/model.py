"""LSTM sequence classifier; num_outputs=5 gives class scores, num_outputs=1 a single "class value"."""

import torch
import torch.nn as nn


class LSTMClassifier(nn.Module):
    def __init__(self, input_size=2, hidden_size=32, num_outputs=5):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_outputs)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.fc(out[:, -1, :])


def build_model(input_size=2, hidden_size=32, num_outputs=5):
    torch.manual_seed(0)
    return LSTMClassifier(input_size, hidden_size, num_outputs)

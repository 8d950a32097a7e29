"""Vanilla (tanh) RNN encoder with a BatchNorm + dropout MLP head."""
import torch
import torch.nn as nn


class HARModel(nn.Module):
    def __init__(self, n_channels=6, hidden_size=48, n_classes=3, drop_prob=0.5):
        super(HARModel, self).__init__()
        self.rnn = nn.RNN(n_channels, hidden_size, batch_first=True)
        self.head = nn.Sequential(
            nn.BatchNorm1d(hidden_size),
            nn.ReLU(),
            nn.Dropout(drop_prob),
            nn.Linear(hidden_size, n_classes),
        )

    def forward(self, x):
        out, hidden = self.rnn(x)
        return self.head(hidden[-1])


def create_model(n_channels=6, hidden_size=48, n_classes=3, drop_prob=0.5):
    torch.manual_seed(0)
    return HARModel(n_channels, hidden_size, n_classes, drop_prob)

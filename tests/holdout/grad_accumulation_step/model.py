import torch
from torch import nn


class GRUClassifier(nn.Module):
    def __init__(self, n_channels=6, hidden_size=48, n_classes=3):
        super().__init__()
        torch.manual_seed(0)
        self.gru = nn.GRU(n_channels, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, n_classes)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out[:, -1, :])

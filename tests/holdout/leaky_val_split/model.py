"""GRU classifier over packed variable-length sequences."""
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence


class GRUClassifier(nn.Module):
    def __init__(self, input_size=5, hidden_size=48, num_classes=4):
        super(GRUClassifier, self).__init__()
        self.gru = nn.GRU(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)
        return self.fc(h_n[-1])


def build_model(input_size=5, hidden_size=48, num_classes=4):
    torch.manual_seed(0)
    return GRUClassifier(input_size, hidden_size, num_classes)

"""A bidirectional GRU classifier over time-major (seq_len, batch, features) input."""
import torch
import torch.nn as nn


class BiGRUClassifier(nn.Module):
    def __init__(self, input_size=4, hidden_size=32, num_classes=3, readout="final_states"):
        super(BiGRUClassifier, self).__init__()
        self.readout = readout
        self.gru = nn.GRU(input_size, hidden_size, bidirectional=True)
        self.fc = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, x):
        output, h_n = self.gru(x)  # output: (T, N, 2H), h_n: (2, N, H)
        if self.readout == "final_states":
            # forward direction's state after the last step, backward direction's state after the first step
            features = torch.cat((h_n[-2], h_n[-1]), dim=1)
        else:
            features = output[-1]  # last time step of both directions
        return self.fc(features)


def build(input_size=4, hidden_size=32, num_classes=3, readout="final_states"):
    torch.manual_seed(0)
    return BiGRUClassifier(input_size, hidden_size, num_classes, readout)

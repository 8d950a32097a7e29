"""Bidirectional GRU classifier, wrapped in nn.DataParallel by the factory (a no-op wrapper on CPU)."""

import torch
import torch.nn as nn


class BiGRUClassifier(nn.Module):
    def __init__(self, input_size=4, hidden_size=32, num_layers=1, num_classes=4, readout="final_states"):
        super(BiGRUClassifier, self).__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(hidden_size * 2, num_classes)
        self.readout = readout

    def forward(self, x):
        out, h_n = self.gru(x)  # out: (N, T, 2H), h_n: (num_layers * 2, N, H)
        if self.readout == "final_states":
            # last layer's forward state (after step T-1) and backward state (after step 0)
            feat = torch.cat((h_n[-2], h_n[-1]), dim=1)
        else:
            feat = out[:, -1, :]  # both directions at the last step: the backward half has seen one step
        return self.fc(feat)


def build_model(input_size=4, hidden_size=32, num_classes=4, readout="final_states"):
    torch.manual_seed(0)
    model = BiGRUClassifier(input_size, hidden_size, 1, num_classes, readout)
    if torch.cuda.device_count() > 1:
        print("Let's use", torch.cuda.device_count(), "GPUs!")
    model = nn.DataParallel(model)
    return model

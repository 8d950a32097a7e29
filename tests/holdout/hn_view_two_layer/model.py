"""Two-layer GRU classifier for waveform shapes."""
import torch
import torch.nn as nn


class WaveGRU(nn.Module):
    def __init__(self, input_size=1, hidden_size=48, num_layers=2, num_classes=4, concat_layers=False):
        super().__init__()
        torch.manual_seed(0)
        self.concat_layers = concat_layers
        self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        head_in = num_layers * hidden_size if concat_layers else hidden_size
        self.classifier = nn.Linear(head_in, num_classes)

    def forward(self, x):
        batch_size = x.size(0)
        _, h_n = self.gru(x)  # (num_layers, batch, hidden) even with batch_first=True
        if self.concat_layers:
            feats = h_n.view(batch_size, -1)  # every layer's final state side by side
        else:
            feats = h_n[-1]  # top layer
        return self.classifier(feats)

"""A single-layer RNN with one output unit for binary classification."""
import torch
import torch.nn as nn


class TrendRNN(nn.Module):
    def __init__(self, input_dim=2, hidden_dim=32, output_probs=False):
        super().__init__()
        torch.manual_seed(0)
        self.output_probs = output_probs
        self.rnn = nn.RNN(input_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        _, hidden = self.rnn(x)
        logits = self.fc(hidden.squeeze(0)).squeeze(1)
        if self.output_probs:
            return torch.sigmoid(logits)  # probabilities, handy for thresholding at 0.5
        return logits

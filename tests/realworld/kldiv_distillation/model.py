"""Student LSTM returning log-probabilities for KLDivLoss (or, in the buggy version, the raw logits)."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class StudentLSTM(nn.Module):
    def __init__(self, input_size=4, hidden_size=32, num_classes=5, log_probs=True):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.classifier = nn.Linear(hidden_size, num_classes)
        self.log_probs = log_probs

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        logits = self.classifier(h_n[-1])
        if self.log_probs:
            return F.log_softmax(logits, dim=-1)
        return logits


def build_model(input_size=4, hidden_size=32, num_classes=5, log_probs=True):
    torch.manual_seed(0)
    return StudentLSTM(input_size, hidden_size, num_classes, log_probs)

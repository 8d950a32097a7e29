"""LSTM classifier with chrono initialization (Tallec & Ollivier, "Can recurrent neural networks warp time?").

The forget-gate bias is drawn as log(U(1, T_max - 1)) and the input-gate bias is its negative, so the forget
gate starts close to 1 (saturated on purpose) and the cell keeps information for about T_max steps.
PyTorch's LSTM adds bias_ih and bias_hh, so the chrono values go into bias_ih and bias_hh is zeroed.
"""

import torch
from torch import nn


def chrono_init(lstm, t_max):
    for name, param in lstm.named_parameters():
        if "bias" not in name:
            continue
        n = param.size(0) // 4  # gate order: input, forget, cell, output
        with torch.no_grad():
            param.zero_()
            if name.startswith("bias_ih"):
                forget = torch.log(torch.empty(n).uniform_(1, t_max - 1))
                param[n:2 * n] = forget
                param[:n] = -forget


class ChronoLSTMClassifier(nn.Module):
    def __init__(self, input_size=4, hidden_size=64, num_classes=4, t_max=40, recurrent_init="orthogonal"):
        super().__init__()
        torch.manual_seed(0)
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        for name, param in self.lstm.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(param)
            elif name.startswith("weight_hh"):
                if recurrent_init == "orthogonal":
                    nn.init.orthogonal_(param)
                else:
                    nn.init.normal_(param, std=1.0)
        chrono_init(self.lstm, t_max)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.fc(h_n[-1])

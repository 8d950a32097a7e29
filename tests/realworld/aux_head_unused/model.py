"""A multi-task LSTM: a shared encoder and one linear head per task.

Task 0 is the activity (main task); task 1 is the device placement (auxiliary). With ``use_aux=False`` the
auxiliary task is switched off: forward returns the main logits only and the auxiliary head is left unused.
"""

import torch
from torch import nn


class MultiTaskLSTM(nn.Module):
    def __init__(self, input_size=6, hidden_size=64, task_classes=(4, 2), use_aux=False, heads_in_list=False):
        super().__init__()
        torch.manual_seed(0)
        self.use_aux = use_aux
        self.encoder = nn.LSTM(input_size, hidden_size, batch_first=True)
        if heads_in_list:
            self.heads = [nn.Linear(hidden_size, n) for n in task_classes]
        else:
            self.heads = nn.ModuleList([nn.Linear(hidden_size, n) for n in task_classes])

    def forward(self, x):
        _, (h_n, _) = self.encoder(x)
        features = h_n[-1]
        main_logits = self.heads[0](features)
        if self.use_aux:
            return main_logits, self.heads[1](features)
        return main_logits

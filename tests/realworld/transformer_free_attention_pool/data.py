"""Variable-length sensor recordings (8-40 steps of 5 standardized features), zero-padded to 40 steps.

A recording belongs to class 1 when a short "event" (a bump on features 0 and 1 lasting 3 steps) occurs
somewhere in it, class 0 otherwise; the event can be anywhere in the valid part, so the model has to look at
every real step (attention pooling fits the task). Batches are ``(x, y, lengths)`` with x (N, 40, 5).
"""

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, TensorDataset

MAX_LEN = 40


def make_recordings(num_samples=1000, num_features=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    seqs, labels = [], []
    for _ in range(num_samples):
        n = int(torch.randint(8, MAX_LEN + 1, (1,), generator=g))
        x = torch.randn(n, num_features, generator=g)
        label = int(torch.randint(0, 2, (1,), generator=g))
        if label == 1:
            start = int(torch.randint(0, n - 2, (1,), generator=g))
            x[start:start + 3, :2] += 2.0
        seqs.append(x)
        labels.append(label)
    lengths = torch.tensor([len(s) for s in seqs])
    x = pad_sequence(seqs, batch_first=True)  # zero padding after each recording
    if x.size(1) < MAX_LEN:
        x = torch.cat([x, x.new_zeros(x.size(0), MAX_LEN - x.size(1), num_features)], dim=1)
    return x, torch.tensor(labels), lengths


def train_loader(batch_size=32):
    x, y, lengths = make_recordings()
    return DataLoader(TensorDataset(x, y, lengths), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

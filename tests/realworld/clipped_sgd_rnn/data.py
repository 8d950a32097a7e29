"""Token-sequence classification: which of 4 topics a sequence of 20 word ids (vocab 60) is about.

Words 4-59 are filler; each topic t has a keyword set (words 4 + 14*t ... 4 + 14*t + 13) that makes up about
40% of a sequence about t, the rest is uniform filler. With shuffle_labels=True the label column is permuted
after the inputs were built (a pipeline bug that breaks the pairing of x and y).
"""

import torch
from torch.utils.data import DataLoader, TensorDataset

VOCAB = 60
NUM_CLASSES = 4


def make_dataset(n, seed, seq_len=20, shuffle_labels=False):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    filler = torch.randint(4, VOCAB, (n, seq_len), generator=g)
    topical = 4 + 14 * y[:, None] + torch.randint(0, 14, (n, seq_len), generator=g)
    use_topic = torch.rand(n, seq_len, generator=g) < 0.4
    x = torch.where(use_topic, topical, filler)
    if shuffle_labels:
        y = y[torch.randperm(len(y), generator=g)]
    return TensorDataset(x, y)


def train_loader(batch_size=32, shuffle_labels=False):
    return DataLoader(make_dataset(1000, seed=0, shuffle_labels=shuffle_labels), batch_size=batch_size,
                      shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=200, shuffle_labels=False):
    return DataLoader(make_dataset(200, seed=1, shuffle_labels=shuffle_labels), batch_size=batch_size)

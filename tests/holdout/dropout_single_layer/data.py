"""Synthetic review sentiment: 24-token reviews over a 60-word vocabulary.

Ids 1-10 are positive words, 11-20 negative words, 21-59 neutral filler (0 is reserved for padding, unused
here since every review has the same length). A review of class 1 holds 3-5 positive words and at most one
negative word; class 0 the reverse.
"""
import torch
from torch.utils.data import DataLoader, TensorDataset

POSITIVE = torch.arange(1, 11)
NEGATIVE = torch.arange(11, 21)


def make_reviews(n_reviews=1000, seq_len=24, vocab_size=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    text = torch.randint(21, vocab_size, (n_reviews, seq_len), generator=g)
    labels = torch.randint(0, 2, (n_reviews,), generator=g)
    for i in range(n_reviews):
        own, other = (POSITIVE, NEGATIVE) if labels[i] == 1 else (NEGATIVE, POSITIVE)
        n_own = int(torch.randint(3, 6, (1,), generator=g))
        n_other = int(torch.randint(0, 2, (1,), generator=g))
        pos = torch.randperm(seq_len, generator=g)[:n_own + n_other]
        words = torch.cat([own[torch.randint(0, 10, (n_own,), generator=g)],
                           other[torch.randint(0, 10, (n_other,), generator=g)]])
        text[i, pos] = words
    return text, labels


def train_iterator(batch_size=32):
    text, labels = make_reviews()
    return DataLoader(TensorDataset(text, labels), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

"""Binary sentiment of short reviews: token ids (N, 40) right-padded with 0, plus each review's length.

Batches are ``(tokens, labels, lengths)``. Reviews have 5-40 tokens; the label says whether "positive" tokens
(ids 1-99) outnumber "negative" ones (ids 100-199). The data and lengths are correct; the bug is in the model.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def reviews(samples: int, seed: int, max_len: int = 40, vocab: int = 200) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(5, max_len + 1, (samples,), generator=g)
    tokens = torch.randint(1, vocab, (samples, max_len), generator=g)
    padded = torch.arange(max_len)[None, :] >= lengths[:, None]
    tokens[padded] = 0
    positive = ((tokens > 0) & (tokens < vocab // 2)).sum(1)
    negative = (tokens >= vocab // 2).sum(1)
    labels = (positive > negative).long()
    return TensorDataset(tokens, labels, lengths)


def train_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        reviews(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

"""Per-token tagging of padded sentences: token ids (N, 24) with 0 as padding, tags (N, 24) in 0-5.

Each token id has a fixed tag (its id modulo 6), so the task is learnable. Sentences have 8-24 tokens;
padded target positions hold -100, the loss's ignore_index, so padding itself is handled correctly.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def sentences(samples: int, seed: int, max_len: int = 24, vocab: int = 100, tags: int = 6) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(8, max_len + 1, (samples,), generator=g)
    tokens = torch.randint(1, vocab, (samples, max_len), generator=g)
    labels = tokens % tags
    padded = torch.arange(max_len)[None, :] >= lengths[:, None]
    tokens[padded] = 0
    labels[padded] = -100
    return TensorDataset(tokens, labels)


def train_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        sentences(1024, seed=0), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

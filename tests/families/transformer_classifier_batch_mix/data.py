"""Token sequences for a query-in-passage classifier, batch-first (N, 24) as a DataLoader stacks them.

Vocabulary of 40 ids (0 is unused padding). Position 0 holds a query entity (ids 10-19), the remaining 23
positions a passage of filler words (ids 20-39) that mentions exactly one entity (ids 10-19) somewhere.
Label 1 when the passage mentions the query entity, 0 when it mentions another one (balanced). Neither the
query nor the passage alone says anything about the label: the model has to compare position 0 with the rest
of the same sequence, which is what self-attention is for.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

SEQ_LEN = 24
VOCAB = 40
NUM_ENTITIES = 10
FIRST_ENTITY = 10
FIRST_FILLER = 20


def make_sequences(num_samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(FIRST_FILLER, VOCAB, (num_samples, SEQ_LEN), generator=g)
    query = torch.randint(FIRST_ENTITY, FIRST_ENTITY + NUM_ENTITIES, (num_samples,), generator=g)
    labels = torch.randint(0, 2, (num_samples,), generator=g)
    shift = torch.randint(1, NUM_ENTITIES, (num_samples,), generator=g)  # a different entity for label 0
    other = FIRST_ENTITY + (query - FIRST_ENTITY + shift) % NUM_ENTITIES
    mention = torch.where(labels == 1, query, other)
    where = torch.randint(1, SEQ_LEN, (num_samples,), generator=g)
    tokens[:, 0] = query
    tokens[torch.arange(num_samples), where] = mention
    return tokens, labels


def train_loader(batch_size: int = 32) -> DataLoader:
    tokens, labels = make_sequences(2000, seed=0)
    return DataLoader(
        TensorDataset(tokens, labels), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def val_loader(batch_size: int = 100) -> DataLoader:
    tokens, labels = make_sequences(500, seed=1)
    return DataLoader(TensorDataset(tokens, labels), batch_size=batch_size)

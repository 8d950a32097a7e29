"""Sequence reversal as a toy translation task: src (N, S) -> tgt (N, S) = reversed src followed by EOS.

Token ids: 0 PAD (unused here), 1 SOS, 2 EOS, 3-22 the 20 "words". Every source is 7 words + EOS.
"""

import torch
from torch.utils.data import DataLoader, TensorDataset

PAD_token = 0
SOS_token = 1
EOS_token = 2
N_WORDS = 20
VOCAB_SIZE = N_WORDS + 3


def reversal_pairs(n_pairs, seed, length=7):
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(3, VOCAB_SIZE, (n_pairs, length), generator=g)
    eos = torch.full((n_pairs, 1), EOS_token)
    src = torch.cat([words, eos], dim=1)
    tgt = torch.cat([words.flip(1), eos], dim=1)
    return TensorDataset(src, tgt)


def get_dataloader(batch_size=32):
    return DataLoader(reversal_pairs(1000, seed=0), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def get_val_dataloader(batch_size=32):
    return DataLoader(reversal_pairs(200, seed=1), batch_size=batch_size)

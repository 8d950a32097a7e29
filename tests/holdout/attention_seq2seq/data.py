"""Toy translation task: the target sentence is the source sentence reversed.

Token ids 3..vocab_size-1 are words; 0 is PAD, 1 is BOS, 2 is EOS (all sentences have the same length, so
no padding is needed). The DataLoader yields dict batches {"src": (B, S), "tgt": (B, S)}.
"""
import torch
from torch.utils.data import DataLoader, Dataset

PAD_token = 0
BOS_token = 1
EOS_token = 2


class ReversalPairs(Dataset):
    def __init__(self, n_pairs=1000, seq_len=8, vocab_size=16, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.src = torch.randint(3, vocab_size, (n_pairs, seq_len), generator=g)
        self.tgt = torch.flip(self.src, dims=[1])

    def __len__(self):
        return len(self.src)

    def __getitem__(self, idx):
        return {"src": self.src[idx], "tgt": self.tgt[idx]}


def get_dataloader(batch_size=32, seq_len=8, vocab_size=16):
    dataset = ReversalPairs(1000, seq_len, vocab_size, seed=0)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))

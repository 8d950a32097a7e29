"""Spoken-digit-like classification: variable-length (20-32 frames) sequences of 5 spectral features, 4 classes.

Each class has its own frame pattern (which features are raised, and how that shifts over the utterance).
Batches are right-padded with pad_sequence and carry the true lengths: (padded (N, T, 5), labels (N,), lengths).
The 1000 utterances are split once into training and validation indices.
"""
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, Subset


class Utterances(Dataset):
    def __init__(self, n=1000, n_features=5, n_classes=4, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, n_classes, (n,), generator=g)
        lengths = torch.randint(20, 33, (n,), generator=g)
        self.items = []
        for i in range(n):
            T = int(lengths[i])
            c = int(self.labels[i])
            frames = torch.randn(T, n_features, generator=g)
            ramp = torch.linspace(0.0, 1.0, T)
            frames[:, c] += 1.0 - ramp
            frames[:, (c + 1) % n_features] += ramp
            self.items.append(frames)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        return self.items[idx], self.labels[idx]


def collate_batch(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    return pad_sequence(seqs, batch_first=True), torch.stack(labels), lengths


def split_indices(n, val_fraction=0.2, seed=0, val_from_train=False):
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    n_val = int(n * val_fraction)
    train_idx, val_idx = perm[n_val:], perm[:n_val]
    if val_from_train:
        # "quick validation": a random 20% of the training indices
        val_idx = train_idx[torch.randperm(len(train_idx), generator=g)[:n_val]]
    return train_idx.tolist(), val_idx.tolist()


def train_loader(batch_size=32):
    dataset = Utterances()
    train_idx, _ = split_indices(len(dataset))
    return DataLoader(Subset(dataset, train_idx), batch_size=batch_size, shuffle=True,
                      collate_fn=collate_batch, generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=64, val_from_train=False):
    dataset = Utterances()
    _, val_idx = split_indices(len(dataset), val_from_train=val_from_train)
    return DataLoader(Subset(dataset, val_idx), batch_size=batch_size, shuffle=False, collate_fn=collate_batch)

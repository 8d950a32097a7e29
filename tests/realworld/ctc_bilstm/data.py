"""Synthetic "utterances" for a CTC acoustic model: time-major features (T, N, F) and padded label sequences.

Each utterance spells 2-5 labels from 1-10 (0 is the CTC blank). Every label is "spoken" for 3-5 frames as a
fixed 16-dim template plus noise, with 1-2 frames of near-silence between labels. Batches are
(features (T, N, F), targets (N, S), input_lengths (N,), target_lengths (N,)), padded with zeros.
"""

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

N_FEATS = 16
N_LABELS = 10  # labels 1..10, blank = 0


def make_utterances(n, seed, noise=0.3):
    templates = torch.randn(N_LABELS + 1, N_FEATS, generator=torch.Generator().manual_seed(99))
    templates[0] = 0.0  # silence
    g = torch.Generator().manual_seed(seed)
    utterances = []
    for _ in range(n):
        n_labels = int(torch.randint(2, 6, (1,), generator=g))
        labels = torch.randint(1, N_LABELS + 1, (n_labels,), generator=g)
        frames = []
        for lab in labels.tolist():
            frames += [0] * int(torch.randint(1, 3, (1,), generator=g))
            frames += [lab] * int(torch.randint(3, 6, (1,), generator=g))
        frames += [0]
        feats = templates[torch.tensor(frames)] + noise * torch.randn(len(frames), N_FEATS, generator=g)
        utterances.append((feats, labels))
    return utterances


def collate_fn(batch):
    feats = [f for f, _ in batch]
    labels = [l for _, l in batch]
    input_lengths = torch.tensor([f.size(0) for f in feats])
    target_lengths = torch.tensor([l.size(0) for l in labels])
    inputs = pad_sequence(feats)  # (T, N, F)
    targets = pad_sequence(labels, batch_first=True)  # (N, S)
    return inputs, targets, input_lengths, target_lengths


def train_loader(batch_size=16):
    return DataLoader(make_utterances(640, seed=0), batch_size=batch_size, shuffle=True,
                      collate_fn=collate_fn, generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=16):
    return DataLoader(make_utterances(160, seed=1), batch_size=batch_size, collate_fn=collate_fn)

"""IMDB-style movie reviews, synthesized: token ids (vocabulary 300, 0 = <pad>), lengths 8-40, binary labels.

Ids 1-10 are positive words, 11-20 negative words, the rest neutral; a review is positive when positive
words outnumber negative ones. The corpus is shuffled once and split 80/20 into train and validation, and
each loader yields padded batches ``(text, label, lengths)`` with float labels for BCEWithLogitsLoss.
``leaky_split=True`` reproduces a common slicing mistake: the validation set is taken from the front of the
shuffled tensors, which is where the training set also starts.
"""

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, TensorDataset

VOCAB_SIZE = 300
PAD_IDX = 0
MAX_LEN = 40


def load_reviews(num_reviews=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    texts, labels = [], []
    for _ in range(num_reviews):
        n = int(torch.randint(8, MAX_LEN + 1, (1,), generator=g))
        tokens = torch.randint(21, VOCAB_SIZE, (n,), generator=g)
        label = int(torch.randint(0, 2, (1,), generator=g))
        n_major = int(torch.randint(4, 7, (1,), generator=g))
        n_minor = int(torch.randint(0, 2, (1,), generator=g))
        where = torch.randperm(n, generator=g)[: n_major + n_minor]
        major_lo, minor_lo = (1, 11) if label == 1 else (11, 1)
        tokens[where[:n_major]] = torch.randint(major_lo, major_lo + 10, (n_major,), generator=g)
        tokens[where[n_major:]] = torch.randint(minor_lo, minor_lo + 10, (n_minor,), generator=g)
        texts.append(tokens)
        labels.append(label)
    lengths = torch.tensor([len(t) for t in texts])
    text = pad_sequence(texts, batch_first=True, padding_value=PAD_IDX)
    return text, torch.tensor(labels, dtype=torch.float), lengths


def split_reviews(valid_ratio=0.2, leaky_split=False):
    text, label, lengths = load_reviews()
    perm = torch.randperm(len(label), generator=torch.Generator().manual_seed(1))
    text, label, lengths = text[perm], label[perm], lengths[perm]
    n_train = int(len(label) * (1 - valid_ratio))
    n_valid = len(label) - n_train
    train = TensorDataset(text[:n_train], label[:n_train], lengths[:n_train])
    if leaky_split:
        valid = TensorDataset(text[:n_valid], label[:n_valid], lengths[:n_valid])
    else:
        valid = TensorDataset(text[n_train:], label[n_train:], lengths[n_train:])
    return train, valid


def train_loader(batch_size=32, leaky_split=False):
    train, _ = split_reviews(leaky_split=leaky_split)
    return DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))


def valid_loader(batch_size=64, leaky_split=False):
    _, valid = split_reviews(leaky_split=leaky_split)
    return DataLoader(valid, batch_size=batch_size, shuffle=False)

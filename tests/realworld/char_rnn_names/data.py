"""Names classified by "language", as in the PyTorch char-RNN name classification tutorial, batched.

The names are generated instead of read from data/names/*.txt: each of 6 languages draws letters from its own
skewed letter distribution, so the language is recoverable from letter frequencies. Names are one-hot encoded
(letterToIndex / lineToTensor as in the tutorial), padded time-major with pad_sequence into
(T, N, n_letters), and batched as (inputs, targets, lengths).
"""

import string

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
all_categories = ["Arabic", "Chinese", "Dutch", "Greek", "Italian", "Russian"]
n_categories = len(all_categories)


def letterToIndex(letter):
    return all_letters.find(letter)


def lineToTensor(line):
    tensor = torch.zeros(len(line), n_letters)
    for li, letter in enumerate(line):
        tensor[li][letterToIndex(letter)] = 1
    return tensor


def make_names(n, seed):
    lang = torch.Generator().manual_seed(7)  # each language's letter preferences, shared by every split
    lowercase = string.ascii_lowercase
    letter_probs = []
    for _ in all_categories:
        weights = torch.ones(26) * 0.2
        weights[torch.randperm(26, generator=lang)[:6]] = 3.0  # six favourite letters per language
        letter_probs.append(weights / weights.sum())
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(n):
        category = int(torch.randint(0, n_categories, (1,), generator=g))
        length = int(torch.randint(3, 13, (1,), generator=g))
        letters = torch.multinomial(letter_probs[category], length, replacement=True, generator=g)
        name = "".join(lowercase[i] for i in letters.tolist()).capitalize()
        samples.append((name, category))
    return samples


def collate_names(batch):
    tensors = [lineToTensor(name) for name, _ in batch]
    lengths = torch.tensor([t.size(0) for t in tensors])
    targets = torch.tensor([category for _, category in batch])
    return pad_sequence(tensors), targets, lengths  # (T, N, n_letters), (N,), (N,)


def train_loader(batch_size=32):
    return DataLoader(make_names(960, seed=0), batch_size=batch_size, shuffle=True,
                      collate_fn=collate_names, generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=32):
    return DataLoader(make_names(192, seed=1), batch_size=batch_size, collate_fn=collate_names)

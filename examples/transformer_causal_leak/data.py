"""Character-level text for a tiny GPT-style language model, generated from a small grammar instead of read
from a corpus file.

Sentences are "<Subject> <verb> <object>." (capitalized) with each slot drawn at random from a few phrases,
so a character is fully predictable inside a word and uncertain only where the next phrase is chosen. The text
is encoded with a character vocabulary and cut into windows the way char-level GPT code does it: a sample is
``chunk = data[i : i + block_size + 1]`` with ``x = chunk[:-1]`` and ``y = chunk[1:]`` (the next characters).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

SUBJECTS = ["the cat", "a dog", "my bird", "the old man", "her fish", "we", "you"]
VERBS = ["sees", "likes", "eats", "finds", "wants"]
OBJECTS = ["the ball", "a red box", "some milk", "the moon", "it", "jam"]


def make_text(num_sentences: int = 1500, seed: int = 0) -> str:
    g = torch.Generator().manual_seed(seed)

    def pick(options: list[str]) -> str:
        return options[int(torch.randint(0, len(options), (1,), generator=g))]

    sentences = (f"{pick(SUBJECTS)} {pick(VERBS)} {pick(OBJECTS)}." for _ in range(num_sentences))
    return " ".join(s[0].upper() + s[1:] for s in sentences)


def vocabulary() -> list[str]:
    return sorted(set(make_text()))


class CharDataset(Dataset):
    def __init__(self, text: str, block_size: int) -> None:
        chars = vocabulary()
        self.stoi = {ch: i for i, ch in enumerate(chars)}
        self.itos = dict(enumerate(chars))
        self.block_size = block_size
        self.data = torch.tensor([self.stoi[ch] for ch in text], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.data) - self.block_size

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        chunk = self.data[idx : idx + self.block_size + 1]
        return chunk[:-1], chunk[1:]


def train_loader(batch_size: int = 32, block_size: int = 20) -> DataLoader:
    dataset = CharDataset(make_text(1500, seed=0), block_size)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))


def val_loader(batch_size: int = 64, block_size: int = 20) -> DataLoader:
    return DataLoader(CharDataset(make_text(200, seed=1), block_size), batch_size=batch_size)

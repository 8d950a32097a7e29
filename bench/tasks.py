"""Small recurrent training tasks with learnable structure, shared by the benchmarks.

Each task builds a fresh model (seeded), a fixed list of batches and its loss and optimizer, so the
learning-rate sweep and the brute-force grid see exactly the same data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class Task:
    name: str
    model: Callable[[], nn.Module]
    batches: list[Any]
    loss: Callable[[], nn.Module]
    optimizer: type[torch.optim.Optimizer]
    optimizer_args: dict[str, Any]
    description: str


class Classifier(nn.Module):
    def __init__(self, cell: type[nn.RNNBase], features: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.rnn = cell(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class Regressor(Classifier):
    def __init__(self, cell: type[nn.RNNBase], features: int, hidden: int) -> None:
        super().__init__(cell, features, hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).squeeze(-1)


class Tagger(nn.Module):
    def __init__(self, vocab: int, tags: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.rnn = nn.LSTM(16, hidden, batch_first=True)
        self.head = nn.Linear(hidden, tags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out).permute(0, 2, 1)


def _batches(x: torch.Tensor, y: torch.Tensor, size: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def drift_classes(n: int, classes: int, seed: int, steps: int = 16, features: int = 4):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, steps, features, generator=g)
    x[:, :, 0] += (y.float() - (classes - 1) / 2)[:, None] * 0.6
    return x, y


def sine_windows(n: int, seed: int, steps: int = 24):
    g = torch.Generator().manual_seed(seed)
    phase = torch.rand(n, 1, generator=g) * 2 * math.pi
    speed = 0.2 + 0.3 * torch.rand(n, 1, generator=g)
    t = torch.arange(steps + 1)[None, :] * speed + phase
    series = torch.sin(t)
    return series[:, :steps, None], series[:, steps]


def running_sum(n: int, seed: int, steps: int = 20):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, steps, 2, generator=g)
    return x, x[:, :, 0].sum(dim=1) / math.sqrt(steps) - x[:, -3:, 1].mean(dim=1)


def delayed_copy_tags(n: int, seed: int, steps: int = 16, vocab: int = 20, tags: int = 5):
    """Tag at step t is the token at step t-1 modulo the tag count: needs one step of memory."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (n, steps), generator=g)
    y = torch.roll(x, 1, dims=1) % tags
    y[:, 0] = 0
    return x, y


def counting_language(n: int, seed: int, steps: int = 20, vocab: int = 12):
    """Sequences that count upward from a random start with an occasional skip: predictable next tokens."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, vocab, (n, 1), generator=g)
    increments = 1 + (torch.rand(n, steps, generator=g) < 0.1).long()
    return (start + torch.cumsum(increments, dim=1) - increments[:, :1]) % vocab


def all_tasks(samples: int = 512) -> list[Task]:
    x_cls, y_cls = drift_classes(samples, 2, seed=11)
    x_cls3, y_cls3 = drift_classes(samples, 3, seed=12)
    x_sin, y_sin = sine_windows(samples, seed=13)
    x_sum, y_sum = running_sum(samples, seed=14)
    x_tag, y_tag = delayed_copy_tags(samples, seed=15)
    lm = counting_language(samples, seed=16)
    return [
        Task(
            "lstm-classify-adam",
            lambda: Classifier(nn.LSTM, 4, 32, 2),
            _batches(x_cls, y_cls),
            nn.CrossEntropyLoss,
            torch.optim.Adam,
            {},
            "LSTM, 2-class sequence classification, Adam",
        ),
        Task(
            "gru-classify-sgd",
            lambda: Classifier(nn.GRU, 4, 32, 3),
            _batches(x_cls3, y_cls3),
            nn.CrossEntropyLoss,
            torch.optim.SGD,
            {"momentum": 0.9},
            "GRU, 3-class classification, SGD+momentum",
        ),
        Task(
            "rnn-classify-sgd",
            lambda: Classifier(nn.RNN, 4, 32, 2),
            _batches(x_cls, y_cls),
            nn.CrossEntropyLoss,
            torch.optim.SGD,
            {},
            "vanilla RNN, 2-class classification, plain SGD",
        ),
        Task(
            "rnn-forecast-adam",
            lambda: Regressor(nn.RNN, 1, 32),
            _batches(x_sin, y_sin),
            nn.MSELoss,
            torch.optim.Adam,
            {},
            "vanilla RNN, sine next-value regression, Adam",
        ),
        Task(
            "gru-forecast-sgd",
            lambda: Regressor(nn.GRU, 1, 32),
            _batches(x_sin, y_sin),
            nn.MSELoss,
            torch.optim.SGD,
            {"momentum": 0.9},
            "GRU, sine regression, SGD+momentum",
        ),
        Task(
            "lstm-sum-rmsprop",
            lambda: Regressor(nn.LSTM, 2, 32),
            _batches(x_sum, y_sum),
            nn.MSELoss,
            torch.optim.RMSprop,
            {},
            "LSTM, running-sum regression, RMSprop",
        ),
        Task(
            "lstm-tag-adam",
            lambda: Tagger(20, 5, 32),
            _batches(x_tag, y_tag),
            nn.CrossEntropyLoss,
            torch.optim.Adam,
            {},
            "LSTM tagger (delayed copy), Adam",
        ),
        Task(
            "lstm-lm-adam",
            lambda: Tagger(12, 12, 32),
            _batches(lm[:, :-1], lm[:, 1:]),
            nn.CrossEntropyLoss,
            torch.optim.Adam,
            {},
            "LSTM language model (counting language), Adam",
        ),
    ]

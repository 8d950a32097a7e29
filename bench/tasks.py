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
    split: str = "selection"
    """"selection": the tasks rnndoctor's learning-rate rule was chosen on; "evaluation": tasks it never saw."""
    grid_steps: int | None = None
    """Training steps of each ground-truth run when the default is too costly (LBFGS steps run many passes)."""
    flat_targets: bool = False
    """Each batch's targets are flattened to (N*T,), as the scores are (word-level language models)."""

    @property
    def hidden(self) -> int:
        sizes = [m.hidden_size for m in self.model().modules() if isinstance(m, nn.RNNBase)]
        return max(sizes, default=0)

    def train_step(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module, batch: Any) -> float:
        """One training step as a user of this optimizer writes it (a closure for LBFGS); the batch's loss."""
        x, y = batch

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss

        if isinstance(optimizer, torch.optim.LBFGS):
            return float(optimizer.step(closure).detach())
        loss = closure()
        optimizer.step()
        return float(loss.detach())


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
    def __init__(
        self, vocab: int, tags: int, hidden: int, cell: type[nn.RNNBase] = nn.LSTM, bidirectional: bool = False
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.rnn = cell(16, hidden, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), tags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out).permute(0, 2, 1)


class FlatLanguageModel(nn.Module):
    """A word-level language model in the style of the PyTorch examples: scores flattened to (N*T, vocab)."""

    def __init__(self, cell: type[nn.RNNBase], vocab: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.rnn = cell(32, hidden, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.decoder(out).reshape(-1, self.decoder.out_features)


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


def first_token_classes(n: int, seed: int, steps: int = 40, vocab: int = 16, classes: int = 4):
    """The class is the first token modulo the class count, followed by noise tokens: a long-range memory task."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (n, steps), generator=g)
    return torch.nn.functional.one_hot(x, vocab).float(), x[:, 0] % classes


def future_tags(n: int, seed: int, steps: int = 16, vocab: int = 20, tags: int = 4):
    """Tag at step t is the token at step t+1 modulo the tag count: needs the future (a bidirectional model)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (n, steps), generator=g)
    y = torch.roll(x, -1, dims=1) % tags
    y[:, -1] = 0
    return x, y


def pattern_language(n: int, seed: int, steps: int = 24, vocab: int = 40, patterns: int = 6):
    """Sequences that repeat one of a few fixed random phrases from a random offset, with 5% noise tokens."""
    g = torch.Generator().manual_seed(seed)
    phrases = torch.randint(0, vocab, (patterns, 8), generator=g)
    choice = torch.randint(0, patterns, (n,), generator=g)
    offset = torch.randint(0, 8, (n,), generator=g)
    index = (offset[:, None] + torch.arange(steps + 1)[None, :]) % 8
    tokens = phrases[choice[:, None], index]
    noise = torch.rand(tokens.shape, generator=g) < 0.05
    return torch.where(noise, torch.randint(0, vocab, tokens.shape, generator=g), tokens)


def running_mean(n: int, seed: int, steps: int = 30, features: int = 3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, steps, features, generator=g)
    return x, x[:, :, 0].mean(dim=1) * 3 + x[:, :, 1].max(dim=1).values


def all_tasks(samples: int = 512) -> list[Task]:
    """Every benchmark task: the selection set, then the evaluation set."""
    return selection_tasks(samples) + evaluation_tasks(samples)


def evaluation_tasks(samples: int = 512) -> list[Task]:
    """Tasks written after rnndoctor's learning-rate rule was chosen, to score it on setups it never saw."""
    x_cls, y_cls = drift_classes(samples, 4, seed=21, steps=12, features=6)
    x_big, y_big = drift_classes(samples, 2, seed=22, steps=20, features=8)
    x_mem, y_mem = first_token_classes(samples, seed=23)
    x_sin, y_sin = sine_windows(samples, seed=24, steps=16)
    x_mean, y_mean = running_mean(samples, seed=25)
    x_tag, y_tag = delayed_copy_tags(samples, seed=26, vocab=24, tags=6)
    x_fut, y_fut = future_tags(samples, seed=27)
    words = pattern_language(samples, seed=28)
    lm = counting_language(samples, seed=29, vocab=16)
    return [
        Task(
            "gru-classify-adamw-h16",
            lambda: Classifier(nn.GRU, 6, 16, 4),
            _batches(x_cls, y_cls),
            nn.CrossEntropyLoss,
            torch.optim.AdamW,
            {"weight_decay": 0.01},
            "GRU (hidden 16), 4-class classification, AdamW",
            split="evaluation",
        ),
        Task(
            "lstm-classify-sgdm-h512",
            lambda: Classifier(nn.LSTM, 8, 512, 2),
            _batches(x_big, y_big),
            nn.CrossEntropyLoss,
            torch.optim.SGD,
            {"momentum": 0.9},
            "LSTM (hidden 512), 2-class classification, SGD+momentum",
            split="evaluation",
            grid_steps=60,
        ),
        Task(
            "gru-memory-rmsprop-h64",
            lambda: Classifier(nn.GRU, 16, 64, 4),
            _batches(x_mem, y_mem),
            nn.CrossEntropyLoss,
            torch.optim.RMSprop,
            {},
            "GRU (hidden 64), class set by the first of 40 one-hot tokens, RMSprop",
            split="evaluation",
        ),
        Task(
            "lstm-forecast-lbfgs-h16",
            lambda: Regressor(nn.LSTM, 1, 16),
            _batches(x_sin, y_sin, size=128),
            nn.MSELoss,
            torch.optim.LBFGS,
            {"max_iter": 4},
            "LSTM (hidden 16), sine regression, LBFGS (4 iterations per step)",
            split="evaluation",
            grid_steps=50,
        ),
        Task(
            "rnn-regress-adam-h64",
            lambda: Regressor(nn.RNN, 3, 64),
            _batches(x_mean, y_mean),
            nn.MSELoss,
            torch.optim.Adam,
            {},
            "vanilla RNN (hidden 64), running-mean regression, Adam",
            split="evaluation",
        ),
        Task(
            "rnn-tag-rmsprop-h32",
            lambda: Tagger(24, 6, 32, cell=nn.RNN),
            _batches(x_tag, y_tag),
            nn.CrossEntropyLoss,
            torch.optim.RMSprop,
            {},
            "vanilla RNN tagger (hidden 32, delayed copy), RMSprop",
            split="evaluation",
        ),
        Task(
            "bilstm-tag-sgdm-h24",
            lambda: Tagger(20, 4, 24, bidirectional=True),
            _batches(x_fut, y_fut),
            nn.CrossEntropyLoss,
            torch.optim.SGD,
            {"momentum": 0.9},
            "bidirectional LSTM tagger (hidden 24, next-token tags), SGD+momentum",
            split="evaluation",
        ),
        Task(
            "lstm-wordlm-sgd-h128",
            lambda: FlatLanguageModel(nn.LSTM, 40, 128),
            [(x, y.reshape(-1)) for x, y in _batches(words[:, :-1], words[:, 1:])],
            nn.CrossEntropyLoss,
            torch.optim.SGD,
            {},
            "LSTM word-level language model (hidden 128, flattened targets), plain SGD",
            split="evaluation",
            flat_targets=True,
        ),
        Task(
            "gru-lm-adamw-h48",
            lambda: Tagger(16, 16, 48, cell=nn.GRU),
            _batches(lm[:, :-1], lm[:, 1:]),
            nn.CrossEntropyLoss,
            torch.optim.AdamW,
            {},
            "GRU language model (hidden 48, counting language), AdamW",
            split="evaluation",
        ),
    ]


def selection_tasks(samples: int = 512) -> list[Task]:
    """The tasks rnndoctor's learning-rate rule was chosen on (bench/lr_candidates.py)."""
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

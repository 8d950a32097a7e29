"""Time-major sequence-to-sequence forecasting of noisy sines with random frequency, amplitude and phase.

The series are stored as one (T+1, S, 1) tensor, time first, and cut into batches along dim 1 the way
batchify/get_batch code does: inputs = series[:-1, i:i+bs] and targets = series[1:, i:i+bs], i.e. the next
value at every step, both (T, N, 1). The window has 32 steps and the batch 32 series.
"""

import math

import torch

SEQ_LEN = 32


def make_series(n_series, seq_len=SEQ_LEN, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(seq_len + 1, dtype=torch.float32)[:, None]          # (T+1, 1)
    freq = 0.1 + 0.3 * torch.rand(1, n_series, generator=g)
    amp = 0.5 + torch.rand(1, n_series, generator=g)
    phase = 2 * math.pi * torch.rand(1, n_series, generator=g)
    series = amp * torch.sin(freq * t + phase) + 0.05 * torch.randn(seq_len + 1, n_series, generator=g)
    return series.unsqueeze(-1)                                          # (T+1, S, 1)


def get_batch(source, i, batch_size, squeeze_targets=False):
    data = source[:-1, i:i + batch_size]
    target = source[1:, i:i + batch_size]
    if squeeze_targets:
        target = target.squeeze(-1)  # "targets are just values", (T, N)
    return data, target


def train_batches(batch_size=32, squeeze_targets=False):
    source = make_series(640, seed=0)
    return [get_batch(source, i, batch_size, squeeze_targets)
            for i in range(0, source.size(1) - batch_size + 1, batch_size)]


def val_batches(batch_size=32, squeeze_targets=False):
    source = make_series(128, seed=1)
    return [get_batch(source, i, batch_size, squeeze_targets)
            for i in range(0, source.size(1) - batch_size + 1, batch_size)]

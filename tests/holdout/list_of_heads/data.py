"""Multi-horizon load forecasting: from 36 past readings of a daily-cycle series, predict the next 4 readings.

Series are a sum of two oscillations with random phases plus noise. Batches are built by hand, time-major:
inputs (36, N, 1) and targets (N, 4), one column per horizon.
"""
import math

import torch


def make_series(n_series, length, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32).unsqueeze(0)
    p1 = 2 * math.pi * torch.rand(n_series, 1, generator=g)
    p2 = 2 * math.pi * torch.rand(n_series, 1, generator=g)
    f1 = 0.25 + 0.1 * torch.rand(n_series, 1, generator=g)
    series = torch.sin(f1 * t + p1) + 0.5 * torch.sin(0.07 * t + p2)
    return series + 0.05 * torch.randn(n_series, length, generator=g)


def batches(batch_size=32, window=36, horizons=4, n_series=768):
    series = make_series(n_series, window + horizons, seed=0)
    out = []
    for i in range(0, n_series, batch_size):
        chunk = series[i:i + batch_size]
        x = chunk[:, :window].t().unsqueeze(-1).contiguous()  # (T, N, 1)
        y = chunk[:, window:window + horizons]                # (N, H)
        out.append((x, y))
    return out

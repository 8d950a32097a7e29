"""Sine waves with random phase shifts, as generate_sine_wave.py makes them, kept in float64.

Each row is one wave; the model reads data[:, :-1] and must predict data[:, 1:] (shape (N, L-1), no feature
axis). The whole set is one batch, as in the example's LBFGS training.
"""

import torch


def generate_sine_wave(N=64, L=40, T=20, seed=2):
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(L, dtype=torch.double).repeat(N, 1)
    x = x + torch.randint(-4 * T, 4 * T, (N, 1), generator=g).double()
    return torch.sin(x / 1.0 / T)


def train_data(N=64, L=40):
    data = generate_sine_wave(N, L)
    input = data[:, :-1]
    target = data[:, 1:]
    return [(input, target)]


def val_data(N=16, L=40):
    data = generate_sine_wave(N, L, seed=3)
    return [(data[:, :-1], data[:, 1:])]

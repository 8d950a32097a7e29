"""Writes healthy/traindata.pt exactly as the upstream generate_sine_wave.py does (a float64 numpy array of
shifted sine waves saved with torch.save), only smaller: N=40 waves of L=300 points instead of 100 x 1000.

The formula, period (T=20) and seed are upstream's; only N and L differ, so that one LBFGS closure costs
tens of milliseconds. Deterministic."""

from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent / "healthy" / "traindata.pt"


def main() -> None:
    np.random.seed(2)
    T, L, N = 20, 300, 40
    x = np.empty((N, L), "int64")
    x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(x / 1.0 / T).astype("float64")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "wb") as f:
        torch.save(data, f)


if __name__ == "__main__":
    main()

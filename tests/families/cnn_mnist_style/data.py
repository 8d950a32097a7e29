"""Synthetic handwritten-style digits on a 28x28 grayscale canvas, in the MNIST layout (N, 1, 28, 28).

Each digit 0-9 is drawn as its seven-segment strokes with a random shift, stroke thickness, stroke intensity and
a random missing-pixel dropout, on a dark noisy background, then preprocessed the way MNIST code does it:
``ToTensor()`` (0-1) followed by ``Normalize((0.1307,), (0.3081,))``.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

# segments: top, top-left, top-right, middle, bottom-left, bottom-right, bottom
SEGMENTS = {
    0: (1, 1, 1, 0, 1, 1, 1),
    1: (0, 0, 1, 0, 0, 1, 0),
    2: (1, 0, 1, 1, 1, 0, 1),
    3: (1, 0, 1, 1, 0, 1, 1),
    4: (0, 1, 1, 1, 0, 1, 0),
    5: (1, 1, 0, 1, 0, 1, 1),
    6: (1, 1, 0, 1, 1, 1, 1),
    7: (1, 0, 1, 0, 0, 1, 0),
    8: (1, 1, 1, 1, 1, 1, 1),
    9: (1, 1, 1, 1, 0, 1, 1),
}


def _segment_masks(size: int, dy: int, dx: int, width: int) -> torch.Tensor:
    """(7, size, size) boolean strokes of a digit whose 10x16 box starts at (6 + dy, 9 + dx)."""
    top, left, h, w = 6 + dy, 9 + dx, 16, 10
    r = torch.arange(size)[:, None]
    c = torch.arange(size)[None, :]

    def hbar(row: int) -> torch.Tensor:
        return (r >= row) & (r < row + width) & (c >= left) & (c < left + w)

    def vbar(col: int, r0: int, r1: int) -> torch.Tensor:
        return (c >= col) & (c < col + width) & (r >= r0) & (r < r1 + width)

    mid = top + h // 2
    return torch.stack(
        [
            hbar(top),
            vbar(left, top, mid),
            vbar(left + w - width, top, mid),
            hbar(mid),
            vbar(left, mid, top + h),
            vbar(left + w - width, mid, top + h),
            hbar(top + h),
        ]
    )


def make_digits(num_images: int = 2000, size: int = 28, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (num_images,), generator=g)
    table = torch.tensor([SEGMENTS[d] for d in range(10)], dtype=torch.float32)  # (10, 7)
    shifts = range(-4, 5)
    widths = (2, 3)
    # every (dy, dx, width) placement drawn once: (9 * 9 * 2, 7, size, size)
    bank = torch.stack([_segment_masks(size, dy, dx, w) for dy in shifts for dx in shifts for w in widths]).float()
    placement = torch.randint(0, len(bank), (num_images,), generator=g)
    strokes = torch.einsum("ns,nshw->nhw", table[labels], bank[placement]) > 0
    keep = torch.rand(num_images, size, size, generator=g) > 0.15
    intensity = 0.6 + 0.4 * torch.rand(num_images, 1, 1, generator=g)
    images = 0.08 * torch.rand(num_images, size, size, generator=g)
    images = torch.where(strokes & keep, intensity.expand_as(images), images)
    images = (images - 0.1307) / 0.3081
    return images.unsqueeze(1), labels


def train_loader(batch_size: int = 64) -> DataLoader:
    images, labels = make_digits(2000, seed=0)
    return DataLoader(
        TensorDataset(images, labels), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def val_loader(batch_size: int = 256) -> DataLoader:
    images, labels = make_digits(500, seed=1)
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size)

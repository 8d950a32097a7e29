"""Synthetic 16x16 RGB texture patches in 4 classes, decoded as float pixels in 0-255 (N, 3, 16, 16).

Each patch is a striped texture with a random tint and phase on a noisy background; the class is the stripe
orientation: 0 horizontal, 1 vertical, 2 diagonal, 3 anti-diagonal. This is what a pipeline that decodes
images into float tensors without ``ToTensor`` (which would scale to 0-1) hands to the model.

``normalize=True`` applies the usual preprocessing: divide by 255, then subtract the per-channel training mean
and divide by the per-channel training std (what ``transforms.Normalize(mean, std)`` does).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

NUM_CLASSES = 4
SIZE = 16


def make_patches(num_images: int = 2048, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, NUM_CLASSES, (num_images,), generator=g)
    rows = torch.arange(SIZE).view(1, SIZE, 1).float()
    cols = torch.arange(SIZE).view(1, 1, SIZE).float()
    # stripe coordinate per class: rows, cols, rows + cols, rows - cols
    coord = torch.stack([rows.expand(1, SIZE, SIZE), cols.expand(1, SIZE, SIZE), rows + cols, rows - cols]).squeeze(
        1
    )  # (4, 16, 16)
    period = 4.0
    phase = torch.rand(num_images, 1, 1, generator=g) * period
    wave = torch.cos(2 * torch.pi * (coord[labels] + phase) / period)  # (N, 16, 16) in [-1, 1]
    tint = 0.5 + 0.5 * torch.rand(num_images, 3, 1, 1, generator=g)  # a random colour per patch
    background = 60.0 + 80.0 * torch.rand(num_images, 3, 1, 1, generator=g)
    images = background + 70.0 * tint * wave[:, None] + 25.0 * torch.randn(num_images, 3, SIZE, SIZE, generator=g)
    return images.clamp(0, 255).round(), labels


def train_loader(batch_size: int = 32, normalize: bool = False) -> DataLoader:
    images, labels = make_patches()
    if normalize:
        images = images / 255.0
        mean = images.mean(dim=(0, 2, 3), keepdim=True)
        std = images.std(dim=(0, 2, 3), keepdim=True)
        images = (images - mean) / std
    return DataLoader(
        TensorDataset(images, labels), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

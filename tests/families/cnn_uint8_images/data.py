"""A small CIFAR-style image set kept the way torchvision's CIFAR10 keeps it: a uint8 array of HWC images
(``dataset.data``, shape (N, 16, 16, 3)) and a list of integer labels (``dataset.targets``).

Four classes of 16x16 colour images: a filled disc, a ring, a square outline or a cross, each in a random
colour at a random position and size, over a random-coloured noisy background. The Dataset returns the raw
uint8 image as a tensor; conversion to float happens in the training loop (steps.py).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

SIZE = 16
CLASSES = ("disc", "ring", "square", "cross")


def make_images(num_images: int = 2000, seed: int = 0) -> tuple[torch.Tensor, list[int]]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(CLASSES), (num_images,), generator=g)
    r = torch.arange(SIZE).view(1, SIZE, 1).float()
    c = torch.arange(SIZE).view(1, 1, SIZE).float()
    cy = 5 + 6 * torch.rand(num_images, 1, 1, generator=g)
    cx = 5 + 6 * torch.rand(num_images, 1, 1, generator=g)
    radius = 3 + 2 * torch.rand(num_images, 1, 1, generator=g)
    dist = ((r - cy) ** 2 + (c - cx) ** 2).sqrt()
    cheb = torch.maximum((r - cy).abs(), (c - cx).abs())
    shapes = torch.stack(
        [
            dist <= radius,  # disc
            (dist - radius).abs() <= 0.8,  # ring
            (cheb - radius).abs() <= 0.6,  # square outline
            (((r - cy).abs() <= 0.8) | ((c - cx).abs() <= 0.8)) & (cheb <= radius),  # cross
        ],
        dim=1,
    )  # (N, 4, H, W)
    mask = shapes[torch.arange(num_images), labels]  # (N, H, W)
    background = 40 + 100 * torch.rand(num_images, 1, 1, 3, generator=g)
    colour = 120 + 135 * torch.rand(num_images, 1, 1, 3, generator=g)
    images = background + 20 * torch.randn(num_images, SIZE, SIZE, 3, generator=g)
    images = torch.where(mask[..., None], colour.expand_as(images), images)
    return images.clamp(0, 255).to(torch.uint8), labels.tolist()


class ShapesDataset(Dataset):
    def __init__(self, train: bool = True) -> None:
        self.data, self.targets = make_images(2000 if train else 500, seed=0 if train else 1)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.data[index], self.targets[index]  # (16, 16, 3) uint8, int


def train_loader(batch_size: int = 64) -> DataLoader:
    return DataLoader(
        ShapesDataset(train=True), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def val_loader(batch_size: int = 250) -> DataLoader:
    return DataLoader(ShapesDataset(train=False), batch_size=batch_size)

"""Batch preparation of the training loop: uint8 HWC images from the loader become float NCHW tensors."""

from __future__ import annotations

import torch
from torch import nn

# per-channel statistics of the training images in 0-1 units, as passed to transforms.Normalize(mean, std)
MEAN = torch.tensor([0.411, 0.413, 0.407]).view(1, 3, 1, 1)
STD = torch.tensor([0.196, 0.195, 0.196]).view(1, 3, 1, 1)


def forward_batch(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = batch
    images = images.permute(0, 3, 1, 2).float()  # (N, 3, H, W), still 0-255
    return model(images), labels


def forward_batch_normalized(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = batch
    images = images.permute(0, 3, 1, 2).float().div(255)  # what ToTensor() does
    images = (images - MEAN) / STD  # what Normalize(mean, std) does
    return model(images), labels

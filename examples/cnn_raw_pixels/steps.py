"""The hand-written training step of the image classifier's loop, and the same step as it should be."""

from __future__ import annotations

import torch
from torch import nn


def train_step(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer, loss_fn: nn.Module
) -> torch.Tensor:
    """The buggy step: gradients are never cleared, so each update uses the sum of all earlier gradients."""
    images, labels = batch
    model.train()
    outputs = model(images)
    loss = loss_fn(outputs, labels)
    loss.backward()
    optimizer.step()
    return loss


def train_step_fixed(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer, loss_fn: nn.Module
) -> torch.Tensor:
    images, labels = batch
    model.train()
    optimizer.zero_grad()
    outputs = model(images)
    loss = loss_fn(outputs, labels)
    loss.backward()
    optimizer.step()
    return loss

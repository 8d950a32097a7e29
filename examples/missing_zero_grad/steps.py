"""A hand-written training step, as many training loops have one."""

from __future__ import annotations

import torch
from torch import nn


def train_step(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer, loss_fn: nn.Module
) -> torch.Tensor:
    inputs, targets = batch
    loss = loss_fn(model(inputs), targets)
    loss.backward()  # the bug: no optimizer.zero_grad() first, so every step adds to the previous gradients
    optimizer.step()
    return loss

"""The training step of the activity recognizer's loop (and the step as it should be)."""

from __future__ import annotations

import torch
from torch import nn


def train_step(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer, loss_fn: nn.Module
) -> torch.Tensor:
    signals, labels = batch
    model.train()
    logits = model(signals)
    loss = loss_fn(logits, labels)
    loss.backward()
    optimizer.step()  # no optimizer.zero_grad() anywhere: .grad keeps every earlier batch's gradient
    return loss


def train_step_zero_grad(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer, loss_fn: nn.Module
) -> torch.Tensor:
    signals, labels = batch
    model.train()
    optimizer.zero_grad()
    logits = model(signals)
    loss = loss_fn(logits, labels)
    loss.backward()
    optimizer.step()
    return loss

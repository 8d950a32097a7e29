"""The model's head as the loss sees it: which module produced the output, along which axis its features
lie, and on what scale a summed loss is judged. Shared by the loss and gradient checks."""

from __future__ import annotations

from typing import Any

import torch

from rnndoctor.runtime.session import Session
from rnndoctor.runtime.task import loss_ignore_index


def summed_over(session: Session, targets: Any) -> int:
    """How many scored elements a ``reduction='sum'`` loss adds up (1 for a mean): dividing by it puts a
    summed loss, and its gradient, on the per-element scale the thresholds are written for."""
    if getattr(session.loss_fn, "reduction", "mean") != "sum" or not isinstance(targets, torch.Tensor):
        return 1
    ignore = loss_ignore_index(session.loss_fn)
    scored = (
        int((targets != ignore).sum()) if ignore is not None and not targets.is_floating_point() else targets.numel()
    )
    return max(scored, 1)


def feature_axis(module: torch.nn.Module) -> int | None:
    """Where a layer puts its output features: last for linear maps, the channel axis for convolutions."""
    if isinstance(module, (torch.nn.Linear, torch.nn.Bilinear)):
        return -1
    if isinstance(module, torch.nn.modules.conv._ConvNd):
        return 1
    return None


class HeadRecorder:
    """Forward hooks that remember the output of the last module with parameters to run."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.name = ""
        self.output: torch.Tensor | None = None
        self.feature_axis: int | None = None
        """The axis of ``output`` that holds the head's features (None when the module's kind does not say)."""
        self.ran: set[str] = set()
        """Every module with parameters that ran in the forward pass."""
        self.handles = [
            module.register_forward_hook(self._hook(name))
            for name, module in model.named_modules()
            if any(True for _ in module.parameters(recurse=False))
        ]

    def _hook(self, name: str) -> Any:
        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            self.ran.add(name)
            if isinstance(output, torch.Tensor) and output.requires_grad:
                self.name, self.output, self.feature_axis = name, output, feature_axis(module)

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

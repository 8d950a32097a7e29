"""What passes between a script's thread and the diagnosis: the plan of the next step, the messages the
script's thread sends back, and what a whole run saw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from rnndoctor.runtime.state import ModelState, OptimizerState
from rnndoctor.script.records import StepRecord

if TYPE_CHECKING:
    from rnndoctor.script.observer import Observer


class StopScript(BaseException):
    """Ends the script's run. A BaseException, so that the script's ``except Exception`` cannot swallow it;
    one that catches everything meets it again at its next hooked call."""


@dataclass
class Substitution:
    """What the next step trains on instead of the script's own batch: the arguments of the trained
    module's call and the target handed to the loss."""

    module: nn.Module
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    targets: list[Any]
    """One target per loss call of the step, in order (a step may score each sample with its own call)."""


@dataclass
class StepPlan:
    """The diagnosis's instructions for the script's next step."""

    substitute: Substitution | None = None
    loss_fn: Callable[..., Any] | None = None
    """Computes the loss in place of the script's own loss call (a patched or recording loss)."""
    grad_scale: float = 1.0
    """Gradients are multiplied by this before the update (a learning-rate change for hand-written SGD)."""
    scaled: tuple[torch.Tensor, ...] = ()
    """The parameters whose gradients ``grad_scale`` applies to."""


@dataclass
class Message:
    """What the script's thread reports to the diagnosis."""

    kind: str
    """paused, ended, exited, crashed, stopped or fit"""
    record: StepRecord | None = None
    error: BaseException | None = None
    stage: str | None = None
    """For a crash: forward, loss, backward, step, or None for the script's own code."""
    payload: Any = None


@dataclass
class Crash:
    stage: str
    module: str | None = None


@dataclass
class Observations:
    """What the whole run saw, beyond the steps: the optimizers the script built, in order, and whether a
    DataLoader fed it."""

    optimizers: list[torch.optim.Optimizer] = field(default_factory=list)
    dataloaders: int = 0
    dataloader_workers: int = 0
    schedulers: list[str] = field(default_factory=list)
    grads_after_backward: dict[int, torch.Tensor] | None = None
    """Gradients of the first step right after its backward pass and clipping, when asked for."""
    lightning_fit: bool = False
    first_states: dict[int, ModelState] = field(default_factory=dict)
    """Each trained module's state just before its first call: the weights the script starts from."""
    optimizer_states: dict[int, OptimizerState] = field(default_factory=dict)
    """Each optimizer's state when the script built it."""


class Router:
    """Where the installed hooks send what they see: the observer of the script's current run. The hooks are
    installed once for a whole diagnosis (across fresh runs of the script) and removed at its end, so patches
    that a check adds on top of them meanwhile (a clipping recorder) are never unwound out of order."""

    def __init__(self) -> None:
        self.current: Observer | None = None
        self.undo: list[Callable[[], None]] = []

    def uninstall(self) -> None:
        while self.undo:
            self.undo.pop()()
        self.current = None

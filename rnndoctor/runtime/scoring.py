"""Fewer target positions scored per training step when the output layer is most of a step's work.

A word-level language model spends most of a step in its output layer: 700 positions x 200 features x a
33 278-word vocabulary, against a recurrent layer a tenth of that. The learning-rate sweep, the one-batch
fits and the short runs only need the loss and its gradient, not every position's: a forward pre-hook on
the output layer keeps a fixed random subset of the time steps (all samples at each), so the layer runs on
``scored_positions`` positions, the loss is read at the same positions, and the recurrent layers still run
over, and backpropagate through, every step. An unbiased estimate of the loss, at a fraction of the cost.

It is used only where it provably gives the loss of the full batch at those positions: a class-index loss
(``CrossEntropyLoss``/``NLLLoss``, mean reduction), a linear output layer applied to every time step, and a
check on the first batch that the loss of the subset equals the per-position loss of the full outputs read
at the same positions. A step that later reshapes things differently turns it off for the run.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.runtime.layout import primary_tensor
from rnndoctor.setup.config import BATCH_FIRST, TIME_FIRST

HEAD_SHARE = 0.5
"""Positions are subset only when the output layer is at least this share of the weights a token passes
through (below it, a step would not get much cheaper)."""

TOLERANCE = 1e-4
"""Relative difference allowed between the subset's loss and the full outputs' loss at the same positions."""


class ScoringMismatch(BaseException):
    """The outputs or targets of a step do not map onto the scored positions: the step runs again on all of
    them. A BaseException, so that an ``except Exception`` in the user's step cannot swallow it."""


@dataclass
class ScoringPlan:
    """Where to cut: the output layer, the time axis of its input, the positions to score per pass."""

    head: torch.nn.Linear
    head_name: str
    axis: int
    positions: int
    batch_positions: int
    """Target positions of the first training batch (the report says how many of them are scored)."""
    classes: int
    disabled: bool = False
    """Set for the rest of the run when a step's outputs or targets did not line up with the subset."""

    def describe(self) -> dict[str, Any]:
        return {"head": self.head_name, "positions": self.positions, "batch_positions": self.batch_positions}


class PositionSubset:
    """While attached: the output layer sees a fixed random subset of the time steps of its input, and
    `select` reads the targets at the same positions."""

    def __init__(self, plan: ScoringPlan, model: torch.nn.Module, seed: int) -> None:
        self.plan = plan
        self.seed = seed
        self.selection: tuple[tuple[int, ...], torch.Tensor] | None = None
        self.calls = 0
        self.selected = 0
        """Targets read at the scored positions so far (a step that never hands them to the loss reads none)."""
        self._indices: dict[tuple[int, int], torch.Tensor] = {}
        self._handles = [
            model.register_forward_pre_hook(self._model_called),
            plan.head.register_forward_pre_hook(self._head_called),
        ]

    @property
    def disabled(self) -> bool:
        return self.plan.disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self.plan.disabled = value

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()

    def _model_called(self, module: Any, args: Any) -> None:
        self.selection, self.calls = None, 0

    def _head_called(self, module: Any, args: tuple[Any, ...]) -> Any:
        self.calls += 1
        x = args[0] if args else None
        if self.disabled or not isinstance(x, torch.Tensor) or x.dim() != 3:
            self.selection = None
            return None
        axis = self.plan.axis
        steps, samples = int(x.shape[axis]), int(x.shape[1 - axis])
        keep = min(steps, max(1, math.ceil(self.plan.positions / max(samples, 1))))
        if keep >= steps:
            self.selection = None
            return None
        index = self.indices(steps, keep).to(x.device)
        self.selection = (tuple(x.shape[:-1]), index)
        return (x.index_select(axis, index), *args[1:])

    def indices(self, steps: int, keep: int) -> torch.Tensor:
        """The ``keep`` scored time steps of ``steps``: random, the same for every pass of the run."""
        if (steps, keep) not in self._indices:
            generator = torch.Generator().manual_seed(self.seed * 7919 + steps)
            chosen = torch.randperm(steps, generator=generator)[:keep]
            self._indices[(steps, keep)] = chosen.sort().values
        return self._indices[(steps, keep)]

    def scored(self, samples: int, steps: int) -> int:
        """Positions the output layer computes for a batch of ``samples`` sequences of ``steps`` steps."""
        return samples * min(steps, max(1, math.ceil(self.plan.positions / max(samples, 1))))

    def select(self, outputs: Any, targets: Any) -> Any:
        """``targets`` read at the positions the output layer computed in the last forward (unchanged when it
        computed all of them); raises ScoringMismatch when they cannot be lined up with ``outputs``."""
        if self.disabled:
            return targets
        if self.selection is None:
            if self.calls > 1:
                raise ScoringMismatch()
            return targets
        if self.calls != 1 or not isinstance(targets, torch.Tensor):
            raise ScoringMismatch()
        prefix, index = self.selection
        axis = self.plan.axis
        if tuple(targets.shape) == prefix:
            chosen = targets.index_select(axis, index.to(targets.device))
        elif targets.dim() == 1 and targets.numel() == math.prod(prefix):
            chosen = targets.reshape(prefix).index_select(axis, index.to(targets.device)).reshape(-1)
        else:
            raise ScoringMismatch()
        out = primary_tensor(outputs)
        if out is None or out.numel() != chosen.numel() * self.plan.classes:
            raise ScoringMismatch()
        self.selected += 1
        return chosen


def candidate_head(model: torch.nn.Module, run: Any) -> tuple[str, torch.nn.Linear, torch.Size] | None:
    """The last linear layer ``run()`` calls (the output layer), with its name and the shape of its input."""
    names = {id(m): name for name, m in model.named_modules()}
    seen: list[tuple[str, torch.nn.Linear, torch.Size]] = []

    def hook(module: Any, args: tuple[Any, ...]) -> None:
        if args and isinstance(args[0], torch.Tensor):
            seen.append((names.get(id(module), "?"), module, args[0].shape))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return seen[-1] if seen else None


def layout_axis(kind: str, input_shape: torch.Size, steps: int | None) -> int | None:
    """The time axis of the output layer's input (time-major or batch-first, as the model's input), when its
    length is the input's number of steps."""
    if len(input_shape) != 3 or steps is None or kind not in (BATCH_FIRST, TIME_FIRST):
        return None
    axis = 0 if kind == TIME_FIRST else 1
    return axis if int(input_shape[axis]) == steps else None


def per_position_loss(loss_fn: Any, outputs: Any, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each position's loss (shaped like the targets) and its weight in the mean (0 where ignored)."""
    unreduced = copy.copy(loss_fn)
    unreduced.reduction = "none"
    losses = unreduced(outputs, targets).detach().double()
    valid = targets != getattr(loss_fn, "ignore_index", -100)
    weight = getattr(loss_fn, "weight", None)
    weights = valid.double()
    if isinstance(weight, torch.Tensor):
        weights = weights * weight.detach().double()[targets.clamp(min=0)].to(weights.device)
    return losses, weights


def wide_head(loss_fn: Any, head_weights: int, dense_weights: int) -> bool:
    """Whether a subset is worth using and safe to read: a class-index loss with mean reduction, an output
    layer that is most of the work."""
    if not isinstance(loss_fn, (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)):
        return False
    if getattr(loss_fn, "reduction", "mean") != "mean":
        return False
    return dense_weights > 0 and head_weights >= HEAD_SHARE * dense_weights


def agrees(subset_loss: float, expected: float) -> bool:
    return math.isfinite(subset_loss) and abs(subset_loss - expected) <= TOLERANCE * max(1.0, abs(expected))

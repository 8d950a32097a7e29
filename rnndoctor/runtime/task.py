"""Infer what the user is training (the task) from the loss, the targets and the model's outputs.

Every later judgement depends on it: an imbalance is a problem for a classifier, not for a language
model; a class id can only be out of range if there are classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

INDEX_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"})
BINARY_LOSSES = frozenset({"BCELoss", "BCEWithLogitsLoss", "MultiLabelSoftMarginLoss"})
REGRESSION_LOSSES = frozenset({"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "GaussianNLLLoss"})

SINGLE_LABEL = "single-label classification"
BINARY = "binary classification"
MULTI_LABEL = "multi-label classification"
TAGGING = "per-timestep tagging"
LANGUAGE_MODEL = "language modelling"
TRANSCRIPTION = "sequence transcription (CTC)"
SOFT_TARGETS = "soft-target distribution matching"
REGRESSION = "regression"
UNKNOWN = "unknown"

NO_CLASS_CHECKS = frozenset({REGRESSION, UNKNOWN, TRANSCRIPTION, SOFT_TARGETS})
"""Tasks whose targets are not one class id per sample or step."""


LM_SHIFT_AGREEMENT = 0.9
"""Share of positions where targets equal the next input token for a batch to count as language modelling."""


@dataclass
class Task:
    kind: str
    loss: str
    num_classes: int | None = None
    class_axis: int | None = None
    """Axis of the outputs that the loss treats as classes (None when not a class-index loss)."""
    ignore_index: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def loss_family(loss_name: str) -> str:
    if loss_name in INDEX_LOSSES:
        return "index"
    if loss_name in BINARY_LOSSES:
        return "binary"
    if loss_name in REGRESSION_LOSSES:
        return "regression"
    return "unknown"


def loss_ignore_index(loss_fn: Any) -> int | None:
    value = getattr(loss_fn, "ignore_index", None)
    return int(value) if isinstance(value, int) else None


def infer_task(
    loss_name: str,
    targets: Any,
    outputs: Any = None,
    inputs: Any = None,
    ignore_index: int | None = None,
    *,
    per_step: bool | None = None,
    vocabularies: frozenset[int] = frozenset(),
) -> Task:
    """Name the task from one batch's targets, and its outputs and inputs when they are known.

    ``per_step`` says the targets hold one value per time step (known from the batch layout even when they
    are flattened); ``vocabularies`` are the row counts of the model's embeddings: per-step classes over a
    vocabulary are language modelling, not tagging. ``inputs`` and ``targets`` may be given samples-first,
    so that a next-token relation is read along time.
    """
    family = loss_family(loss_name)
    if "ctc" in loss_name.lower():
        return Task(TRANSCRIPTION, loss_name, reason=f"{loss_name} aligns output frames to label sequences")
    if loss_name == "KLDivLoss":
        return Task(SOFT_TARGETS, loss_name, reason="KLDivLoss matches a predicted distribution to target ones")
    if not isinstance(targets, torch.Tensor):
        return Task(UNKNOWN, loss_name, reason="targets are not a tensor")
    out = outputs if isinstance(outputs, torch.Tensor) else None
    integral = not targets.is_floating_point() or _integer_valued(targets)

    if family == "regression":
        return Task(REGRESSION, loss_name, reason=f"{loss_name} is a regression loss")
    if family == "binary":
        width = 1 if targets.dim() <= 1 else int(targets.shape[-1])
        if width > 1 and targets.dim() >= 2:
            return Task(MULTI_LABEL, loss_name, num_classes=width, reason=f"{loss_name} on {width} labels per sample")
        return Task(BINARY, loss_name, num_classes=2, reason=f"{loss_name} with one output per sample")
    if family == "index" or (family == "unknown" and integral and out is not None and out.dim() == targets.dim() + 1):
        axis, classes = class_axis_and_count(out, targets)
        kind = SINGLE_LABEL
        soft = family == "index" and targets.is_floating_point() and out is not None and out.shape == targets.shape
        if soft and not is_one_hot(targets, dim=1) and _probability_rows(targets):
            return Task(SOFT_TARGETS, loss_name, num_classes=classes, class_axis=1, reason="probability targets")
        stepwise = per_step if per_step is not None else targets.dim() >= 2
        if stepwise and not _one_hot_like(targets, out):
            vocabulary = classes is not None and classes in vocabularies
            kind = LANGUAGE_MODEL if vocabulary or _looks_like_next_token(inputs, targets) else TAGGING
        elif classes == 2:
            kind = BINARY
        why = f"{loss_name} with {'integer' if integral else 'float'} targets of shape {tuple(targets.shape)}"
        return Task(kind, loss_name, num_classes=classes, class_axis=axis, ignore_index=ignore_index, reason=why)
    if targets.is_floating_point() and not integral:
        return Task(REGRESSION, loss_name, reason="real-valued targets")
    return Task(UNKNOWN, loss_name, reason=f"cannot tell the task from {loss_name}")


def class_axis_and_count(outputs: torch.Tensor | None, targets: torch.Tensor) -> tuple[int | None, int | None]:
    """Where the class scores sit in ``outputs`` and how many classes there are.

    A class-index loss reads classes on axis 1 of (N, C, ...) outputs; when the outputs are (N, ..., C)
    instead (a common mistake for tagging), the class count is the last axis.
    """
    if outputs is None or outputs.dim() == 0:
        return None, None
    if outputs.dim() == 1:
        return 0, int(outputs.shape[0])
    if outputs.shape == targets.shape:
        return 1, int(outputs.shape[1])
    if outputs.dim() == targets.dim() + 1:
        torch_layout = outputs.shape[0] == targets.shape[0] and tuple(outputs.shape[2:]) == tuple(targets.shape[1:])
        last_layout = tuple(outputs.shape[:-1]) == tuple(targets.shape)
        if torch_layout or not last_layout:
            return 1, int(outputs.shape[1])
        return outputs.dim() - 1, int(outputs.shape[-1])
    return 1, int(outputs.shape[1])


def _integer_valued(t: torch.Tensor) -> bool:
    if t.numel() == 0:
        return False
    finite = t[torch.isfinite(t)]
    return bool(finite.numel() > 0 and torch.equal(finite, finite.round()))


def _one_hot_like(targets: torch.Tensor, outputs: torch.Tensor | None) -> bool:
    return outputs is not None and tuple(outputs.shape) == tuple(targets.shape) and is_one_hot(targets, dim=1)


def is_one_hot(t: torch.Tensor, dim: int = -1) -> bool:
    """Every slice along ``dim`` holds a single 1 and zeros elsewhere."""
    if t.dim() < 1 or t.numel() == 0 or t.shape[dim] < 2:
        return False
    values = t.detach().to(torch.float64)
    if not bool(((values == 0) | (values == 1)).all()):
        return False
    return bool((values.sum(dim=dim) == 1).all())


def _looks_like_next_token(inputs: Any, targets: torch.Tensor) -> bool:
    """Samples-first token inputs whose targets are the next token (or, unshifted by mistake, the same)."""
    if not isinstance(inputs, torch.Tensor) or inputs.is_floating_point() or inputs.shape != targets.shape:
        return False
    if targets.dim() != 2 or targets.shape[1] < 2:
        return False
    shifted = (inputs[:, 1:] == targets[:, :-1]).double().mean().item()
    same = (inputs == targets).double().mean().item()
    return max(shifted, same) >= LM_SHIFT_AGREEMENT


def _probability_rows(t: torch.Tensor) -> bool:
    values = t.detach().double()
    if t.dim() < 2 or not bool(((values >= 0) & (values <= 1)).all()):
        return False
    return bool(((values.sum(dim=1) - 1).abs() < 1e-3).all())

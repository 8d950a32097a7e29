"""What one training step of a script did, as the observer saw it (plain data, no hooks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

LOSS_CLASS_NAMES = {
    "cross_entropy": "CrossEntropyLoss",
    "nll_loss": "NLLLoss",
    "mse_loss": "MSELoss",
    "l1_loss": "L1Loss",
    "smooth_l1_loss": "SmoothL1Loss",
    "huber_loss": "HuberLoss",
    "binary_cross_entropy": "BCELoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "kl_div": "KLDivLoss",
    "poisson_nll_loss": "PoissonNLLLoss",
    "gaussian_nll_loss": "GaussianNLLLoss",
    "ctc_loss": "CTCLoss",
    "soft_margin_loss": "SoftMarginLoss",
    "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
    "multi_margin_loss": "MultiMarginLoss",
    "hinge_embedding_loss": "HingeEmbeddingLoss",
    "margin_ranking_loss": "MarginRankingLoss",
    "cosine_embedding_loss": "CosineEmbeddingLoss",
}
"""The ``torch.nn.functional`` losses the observer wraps, by the name of the module class that computes the same."""


class FunctionalLoss:
    """A ``torch.nn.functional`` loss as the script called it (its keyword arguments bound), usable as the
    session's loss: called with (outputs, targets), named after its module class, and exposing the
    arguments task inference reads (``ignore_index``, ``reduction``, ``weight``)."""

    def __init__(self, function: Callable[..., Any], name: str, arguments: dict[str, Any]) -> None:
        self.function = function
        self.name = name
        self.arguments = dict(arguments)
        self.__name__ = LOSS_CLASS_NAMES.get(name, name)
        self.loss_name = self.__name__
        """The module class that computes the same loss (what the checks know losses by)."""
        for key in ("ignore_index", "reduction", "weight", "pos_weight", "label_smoothing", "blank"):
            if key in self.arguments:
                setattr(self, key, self.arguments[key])

    def __call__(self, outputs: Any, targets: Any, *args: Any, **kwargs: Any) -> Any:
        return self.function(outputs, targets, *args, **{**self.arguments, **kwargs})

    def same_as(self, other: FunctionalLoss) -> bool:
        return self.function is other.function and repr(self.arguments) == repr(other.arguments)

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items() if not isinstance(v, torch.Tensor))
        return f"F.{self.name}({extra})"


@dataclass(frozen=True)
class Flow:
    """An argument that is (exactly) a tensor an earlier call of the same step returned: a hidden state
    handed from one call to the next, an encoder's state handed to its decoder."""

    call: int
    output: int


@dataclass(frozen=True)
class InputSlot:
    """Where a replayed call takes the batch's inputs: all of them, or the slice at one time step (a
    model called once per step of a sequence)."""

    step: int | None = None


@dataclass
class ModuleCall:
    """One call of a module the script trains, at the top level of the script's own code."""

    module: torch.nn.Module
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    training: bool
    output: Any = None
    """The live output while the step is observed (for linking it to the loss); dropped afterwards."""
    output_shapes: list[tuple[int, ...]] = field(default_factory=list)
    link: Any = None
    """How the loss input was computed from this call's output (`replay.Link`), when it was."""


@dataclass
class LossCall:
    """One call of a loss on outputs that carry gradients."""

    loss: Any
    """The loss module, or a `FunctionalLoss`."""
    name: str
    """The loss's class name (``CrossEntropyLoss``)."""
    input: Any
    target: Any
    value: float
    live_input: Any = None
    """The input tensor with its autograd history, while the step is observed; dropped afterwards."""


@dataclass
class StepRecord:
    """Everything one step of the script did between two pauses."""

    index: int
    calls: list[ModuleCall] = field(default_factory=list)
    losses: list[LossCall] = field(default_factory=list)
    backward_values: list[float] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    """In order: zero_grad, backward, clip, step (an optimizer's), update (by hand), schedule, eval, train."""
    clips: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Each gradient clipping call: the function's name and its arguments besides the parameters."""
    substituted: bool = False
    """Whether rnndoctor chose what this step trained on."""
    fingerprint: str = ""
    """What the step trained on, as text (`data_fingerprint`), taken before the calls were made a program."""

    @property
    def loss(self) -> float | None:
        """The step's loss: the value backpropagated (the sum of a step's losses), else the last loss."""
        if self.backward_values:
            return self.backward_values[0]
        if self.losses:
            return self.losses[-1].value
        return None

    def forget_live(self) -> None:
        for call in self.calls:
            call.output = None
        for loss in self.losses:
            loss.live_input = None


def detached_copy(value: Any) -> Any:
    """Tensors (also inside tuples, lists and dicts) detached and cloned; anything else as it is."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, torch.nn.utils.rnn.PackedSequence):
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(detached_copy(v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(detached_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: detached_copy(v) for k, v in value.items()}
    return value


def template(value: Any, live: dict[int, tuple[int, int, torch.Tensor]]) -> Any:
    """A call's argument as data to replay: an earlier call's output becomes a `Flow` to it, any other
    tensor a detached copy."""
    if isinstance(value, torch.Tensor):
        source = live.get(id(value))
        if source is not None and source[2] is value:
            return Flow(source[0], source[1])
        return value.detach().clone()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(template(v, live) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(template(v, live) for v in value)
    if isinstance(value, dict):
        return {k: template(v, live) for k, v in value.items()}
    return value


def tensors_in(value: Any) -> list[torch.Tensor]:
    """Every tensor in a (nested) output."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in tensors_in(item)]
    return []


def data_fingerprint(record: StepRecord) -> str:
    """What a step trained on, as text: its calls' data and its losses' targets."""
    parts = [
        f"{tuple(t.shape)}:{float(t.double().sum()):.6g}"
        for call in record.calls
        for t in tensors_in((call.args, call.kwargs))
    ]
    parts.extend(
        f"{tuple(t.shape)}:{float(t.double().sum()):.6g}" for loss in record.losses for t in tensors_in(loss.target)
    )
    return "|".join(parts)

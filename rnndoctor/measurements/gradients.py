"""Measurements of the gradient checks and of the user's training step: gradient norms, update sizes,
saturated gates, and what repeated calls of the step did."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GradientStats:
    """Gradient norms after backward passes on real batches, per parameter in forward (module) order."""

    norms: dict[str, float]
    """Per-parameter gradient L2 norm (NaN/inf kept as they are)."""
    rms: dict[str, float] = field(default_factory=dict)
    """Per-parameter root-mean-square gradient."""
    total_norm: float = 0.0
    loss: float | None = None
    no_grad: list[str] = field(default_factory=list)
    """Parameters of modules that ran in forward, which require grad but got None or exactly zero."""
    unused: list[str] = field(default_factory=list)
    """Parameters that require grad, of modules that never ran in forward (an auxiliary head, say)."""
    frozen_embeddings: list[str] = field(default_factory=list)
    """The weights of the model's nn.Embedding tables (frozen on purpose when pretrained)."""
    frozen_in_optimizer: list[str] = field(default_factory=list)
    """Parameters with requires_grad=False that the optimizer was given (frozen by mistake?)."""
    not_in_optimizer: list[str] = field(default_factory=list)
    """Trainable parameters that the optimizer does not hold."""
    parameter_counts: dict[str, int] = field(default_factory=dict)
    earliest_recurrent: str | None = None
    last_layer: str | None = None
    non_finite_from: str | None = None
    """The module that first produced NaN or Inf, when gradients or the loss are non-finite."""
    non_finite_in: str | None = None
    """Where it did: in the ``forward`` pass, or in the ``backward`` pass (finite outputs, non-finite gradients)."""


@dataclass
class UpdateStats:
    """Relative size of one optimizer step: ||delta w|| / ||w|| per weight matrix."""

    ratios: dict[str, float]
    optimizer: str
    lr: float | None


@dataclass
class SaturationStats:
    """Share of saturated units per layer and gate at initialization."""

    shares: dict[str, float]
    samples: int


@dataclass
class StepStats:
    """What the user's own training step did over repeated calls."""

    grad_growth: float | None
    """||grad after the 2nd call|| / ||grad after the 1st|| at the same weights and batch (2 = accumulating)."""
    cleared_after_step: bool
    zero_grad_calls: int
    steps: int
    eval_mode_steps: int
    eval_modules: list[str] = field(default_factory=list)
    clipping_after_step: bool = False
    """Gradients clipped only after the call's last optimizer step (by call order or by effect)."""
    clip_calls: int = 0


@dataclass
class RateControl:
    """Whether the user's step moves the weights differently at the optimizer's rate and at half of it."""

    follows_rate: bool
    calls_optimizer_step: bool
    update: float
    half_rate_update: float
    optimizer: str

"""Measurements of the loss check: what the outputs, the targets and the loss of one batch look like."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LossMeasurement:
    """What the outputs, targets and loss of one batch look like."""

    loss: str
    family: str
    output_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    target_is_float: bool
    target_integer_valued: bool
    target_values: list[float] = field(default_factory=list)
    """Distinct target values, when there are few (at most the loss check's ``class_like_max_values`` + 1)."""
    target_one_hot: bool = False
    output_min: float = 0.0
    output_max: float = 0.0
    rows_are_probabilities: bool = False
    """Along the loss's class axis: every value in [0, 1] and every row summing to 1."""
    rows_are_log_probabilities: bool = False
    """Along the loss's class axis: logsumexp of every row is 0."""
    last_axis_log_probabilities: bool = False
    """The same along the outputs' last axis (where a model's log_softmax(dim=-1) puts them)."""
    last_op: str = ""
    loss_value: float | None = None
    loss_error: str | None = None
    num_classes: int | None = None
    target_variance: float | None = None
    class_axis_gradient_balance: float | None = None
    """|sum of dLoss/dHead along the head's feature axis| relative to its magnitude: ~0 when the loss's
    class axis is the one the model's last layer produces."""
    head_name: str = ""
    padded_positions: int = 0
    padded_scored: int = 0
    ignore_index: int | None = None

    @property
    def head(self) -> str:
        """The user's name for the last layer, as a fix should spell it."""
        return self.head_name or "head"

    @property
    def log_probabilities_on_wrong_axis(self) -> bool:
        """Log-probabilities along the last axis of a per-step output, where the loss reads classes on axis 1."""
        return len(self.output_shape) >= 3 and self.last_axis_log_probabilities and not self.rows_are_log_probabilities

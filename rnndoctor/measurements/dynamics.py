"""Measurements of the training-dynamics checks: the learning-rate range test, fits of one batch, short
training runs, and the chance level they are compared with."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnndoctor.logs.training_logs import History

MIN_FINITE_BEFORE_DIVERGENCE = 5
"""Range-test steps with a finite loss before a divergence counts against the configured rate."""


@dataclass
class Sweep:
    """A learning-rate range test: raw and smoothed loss per learning rate, in the order tried."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    configured_lr: float
    suggested_lr: float | None
    optimizer: str
    diverged_at: float | None = None
    """The learning rate at which the smoothed loss blew past the divergence bound (None if it never did)."""
    diverged_in_refinement: float | None = None
    """Where the second range test (run when this one gave no suggestion) diverged, if it did."""

    @property
    def divergence(self) -> float | None:
        """The lowest rate at which either range test diverged after training on finite losses for a while
        (a loss that is not finite from the start says nothing about the rate: the data or the model is)."""
        if sum(1 for loss in self.smoothed if math.isfinite(loss)) < MIN_FINITE_BEFORE_DIVERGENCE:
            return None
        rates = [rate for rate in (self.diverged_at, self.diverged_in_refinement) if rate is not None]
        return min(rates) if rates else None

    @property
    def initial(self) -> float:
        return self.smoothed[0] if self.smoothed else math.nan

    @property
    def lowest(self) -> tuple[float, float]:
        finite = [(loss, lr) for loss, lr in zip(self.smoothed, self.lrs, strict=True) if math.isfinite(loss)]
        loss, lr = min(finite) if finite else (math.nan, math.nan)
        return lr, loss

    def shows_learning(self, min_drop: float) -> bool:
        """The smoothed loss fell by at least ``min_drop`` of its start before diverging: only then does
        the curve say anything about the learning rate."""
        low = self.lowest[1]
        return math.isfinite(low) and self.initial - low >= min_drop * abs(self.initial)

    def onset(self, fraction: float) -> float | None:
        """The first learning rate where the smoothed loss has fallen by ``fraction`` of its total drop."""
        lr_low, low = self.lowest
        drop = self.initial - low
        if not math.isfinite(drop) or drop <= 0:
            return None
        for lr, loss in zip(self.lrs, self.smoothed, strict=True):
            if loss <= self.initial - fraction * drop:
                return lr
            if lr >= lr_low:
                break
        return lr_low


@dataclass
class FitResult:
    """Training on one fixed batch."""

    lr: float
    initial_loss: float
    final_loss: float
    steps: int
    fitted: bool
    accuracy: float | None = None
    predicted_classes: int | None = None
    target_classes: int | None = None
    losses: list[float] = field(default_factory=list)

    @property
    def dropped(self) -> float:
        """How far the loss fell over the run, as a share of its starting magnitude (-inf if it blew up)."""
        if not math.isfinite(self.initial_loss) or not math.isfinite(self.final_loss):
            return -math.inf
        return (self.initial_loss - self.final_loss) / max(abs(self.initial_loss), 1e-12)

    @property
    def still_falling(self) -> bool:
        """The loss fell by more than a tenth of its total fall over the run's last fifth: the step budget,
        not the model, ended the run."""
        values = [v for v in self.losses if math.isfinite(v)]
        if len(values) < 10 or len(values) < len(self.losses):
            return False
        total = values[0] - values[-1]
        tail = values[-(len(values) // 5) - 1] - values[-1]
        return total > 0 and tail > 0.1 * total and tail > 1e-3 * max(abs(values[0]), 1e-12)

    @property
    def moved(self) -> float:
        """Relative change of the loss over the run."""
        if not math.isfinite(self.initial_loss) or not math.isfinite(self.final_loss):
            return math.inf
        return abs(self.initial_loss - self.final_loss) / max(abs(self.initial_loss), 1e-12)

    def learns(self, learned_share: float) -> bool:
        """Fitted, fell by ``learned_share`` of its starting loss, or still falling when the steps ran out."""
        return self.fitted or self.dropped >= learned_share or self.still_falling


@dataclass
class OverfitRuns:
    """Fitting one batch at the configured rate, and again at another rate when that did not fit."""

    configured: FitResult
    retry: FitResult | None = None


@dataclass
class BlindFit:
    """The best fit of one batch beside the same fit with every input zeroed, and how much zeroing the
    inputs moves the untrained model's outputs (against how much they differ between samples)."""

    normal: FitResult
    blind: FitResult
    sensitivity: float | None = None


@dataclass
class Chance:
    """The loss of the best constant prediction, and the accuracy of always predicting the majority."""

    loss: float
    basis: str
    majority: float | None = None


@dataclass
class ShortRun:
    """Training loss (and accuracy) per epoch of a short run at one learning rate."""

    losses: list[float | None]
    accuracies: list[float | None]
    lr: float

    @property
    def finite(self) -> list[float]:
        return [v for v in self.losses if v is not None and math.isfinite(v)]

    def at_chance(self, chance: Chance, margin: float) -> bool:
        """The last epoch's loss within ``margin`` (relative) of chance and not learning: not falling by half
        the margin per epoch, nor below chance and still falling epoch after epoch by a twentieth of the margin
        (slow learning, as opposed to the creep of memorizing noise); and the accuracy (when known) no better
        than the majority class by the margin."""
        losses = self.finite
        if len(losses) < 3 or len(losses) < len(self.losses) or chance.loss <= 0:
            return False
        final = losses[-1]
        near = abs(final - chance.loss) <= margin * chance.loss
        slow = (
            final < chance.loss and final < losses[-2] < losses[-3] and losses[-2] - final > margin / 20 * chance.loss
        )
        falling = losses[-2] - final > margin / 2 * chance.loss or slow
        accuracy = next((a for a in reversed(self.accuracies) if a is not None), None)
        better = accuracy is not None and chance.majority is not None and accuracy > chance.majority + margin
        return near and not falling and not better


@dataclass
class ChanceRuns:
    """The short run at the configured rate, the run at the sweep's suggestion when the first stayed at
    chance, and chance level itself."""

    run: ShortRun
    retry: ShortRun | None
    chance: Chance


@dataclass
class ShortTraining:
    """The history of the short train/validation run, and chance level when it is known."""

    history: History
    chance: Chance | None

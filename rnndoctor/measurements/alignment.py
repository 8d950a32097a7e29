"""Measurements of the alignment check: model arguments compared with the targets, and how the outputs
react when such an argument changes at one step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TargetLeak:
    """A model argument that equals the targets, and how the outputs move when it changes at ``step``."""

    argument: str
    main_input: bool
    """The model's first tensor argument (its input) rather than another one (a decoder input)."""
    equal_share: float
    step: int
    change_at_step: float
    """Relative change of the outputs at ``step`` when the argument changes there."""
    change_before_step: float
    """Relative change of the outputs before ``step`` (zero for a model that reads the sequence causally)."""
    floats: bool = False

    def reads_own_step(self, changed: float, unchanged: float) -> bool:
        """The output at the changed step moves by more than ``changed`` and the earlier ones by less than
        ``unchanged``: the model reads, at each step, the target it is asked to predict there."""
        return self.change_at_step > changed and self.change_before_step < unchanged

    def evidence(self) -> dict[str, Any]:
        return {
            "argument": self.argument,
            "equal_share": self.equal_share,
            "probed_step": self.step,
            "output_change_at_step": self.change_at_step,
        }


@dataclass
class TransposedTargets:
    """How often the targets are the inputs' next tokens (or equal to them) as read, and in the other axis
    order."""

    next_token_share: float
    other_order_share: float
    layout: str


@dataclass
class StepwiseFeeding:
    """How often a module called step by step is fed, at a step, the very target its output is scored on
    there (a leak), or the previous step's target (teacher forcing as it should be)."""

    module: str
    steps: int
    """Training steps (script iterations) in which the module's calls could be compared with their targets."""
    leaking_steps: int
    """Of those, the steps in which (nearly) every call was fed its own target."""
    fed_own_target: float
    """Share of all compared calls fed the target of their own loss."""
    fed_previous_target: float
    """Share of compared calls fed the target of the previous call's loss."""
    calls: int

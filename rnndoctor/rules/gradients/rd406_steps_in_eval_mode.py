"""RD406: optimizer steps taken while dropout or batch norm are in eval mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.gradients import StepStats
from rnndoctor.runtime.patches import before_forward
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD406",
    checks=("training_step",),
    message=(
        "{eval_mode_steps} of {steps} optimizer steps ran with {named} in eval mode: dropout is off and batch "
        "norm uses frozen running statistics while training, so the model trains without regularization and "
        "its statistics never adapt. Usually model.eval() from a validation pass was never undone."
    ),
    remedy=(
        "Switch back to training mode at the start of every training step or epoch:\n\n```python\n"
        "model.train()\nfor x, y in train_loader:\n    ...\n```"
    ),
    title="optimizer steps taken in eval mode",
    severity=Severity.WARNING,
    what=(
        "Wraps optimizer.step() while the configured train_step runs and records, at each call, modules whose"
        " behaviour depends on the mode (dropout, batch norm, multi-layer RNN dropout) that are in eval mode;"
        " other modules in eval mode do not matter."
    ),
    why=(
        "In eval mode dropout is off and batch normalization uses, without updating, its running "
        "statistics, so the model trains without the intended regularization and with a different "
        "normalization. The usual cause is a validation pass that calls model.eval() and a training loop "
        "that never calls model.train() again. On CUDA, a cuDNN RNN refuses to backpropagate in eval "
        "mode."
    ),
    symptoms=(
        "Overfitting from the second epoch on although dropout is set; training metrics jump after the "
        'first validation; on GPU, "cudnn RNN backward can only be called in training mode".'
    ),
    fix=("Call model.train() at the start of every training epoch and model.eval() only around evaluation."),
    before=snippet(
        """
        for epoch in range(epochs):
            for x, y in train_loader:
                train_step(model, x, y)
            model.eval()
            validate(model, val_loader)
        """
    ),
    after=snippet(
        """
        for epoch in range(epochs):
            model.train()
            for x, y in train_loader:
                train_step(model, x, y)
            model.eval()
            with torch.no_grad():
                validate(model, val_loader)
        """
    ),
)


@judges(RULE, StepStats)
def eval_mode_steps(stats: StepStats, options: Mapping[str, Any]) -> list[Finding]:
    """Optimizer steps taken while dropout or batch-norm modules are in eval mode."""
    if stats.eval_mode_steps == 0 or not stats.eval_modules:
        return []
    evidence = {"eval_mode_steps": stats.eval_mode_steps, "steps": stats.steps, "modules": stats.eval_modules}
    return [RULE.finding(evidence, {"named": ", ".join(stats.eval_modules[:4])})]


@remedy(RULE)
def train_mode(session: Session, finding: Finding) -> list[Trial] | str:
    """`model.train()` before every training forward."""

    def train(session: Session) -> None:
        session.model.train()

    return [Trial("model.train() before the training forward", [before_forward(train)])]

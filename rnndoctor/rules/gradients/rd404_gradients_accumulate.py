"""RD404: gradients accumulate across steps (no zero_grad in the user's train_step)."""

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
    code="RD404",
    checks=("training_step",),
    message=(
        "Running the training step twice on the same batch at the same weights leaves gradients {grad_growth:.2f}x "
        "those of one call ({zero_grad_calls} zero_grad call(s) seen in {steps} steps): gradients accumulate "
        "across steps. Every update adds all earlier gradients again, so steps grow until the loss diverges."
    ),
    remedy=(
        "Clear the gradients once per step:\n\n```python\noptimizer.zero_grad()\nloss = loss_fn(model(x), y)\n"
        "loss.backward()\noptimizer.step()\n```"
    ),
    title="gradients accumulate across steps (no zero_grad)",
    severity=Severity.ERROR,
    what=(
        "Runs the configured train_step twice on the same batch, at the same weights and random state: if the"
        " step clears gradients the second call leaves the same gradients as the first, if it does not, twice"
        " as many. zero_grad calls are counted as supporting evidence."
    ),
    why=(
        "PyTorch adds each new gradient into .grad. Without optimizer.zero_grad(), every step uses the "
        "sum of all gradients since the start, so the step grows with the iteration count and keeps "
        "pointing in stale directions, like momentum that never decays."
    ),
    symptoms=(
        "Loss falls for a few steps, then oscillates or blows up; the gradient norm grows steadily; a "
        "lower learning rate only delays the divergence."
    ),
    fix=(
        "Call optimizer.zero_grad() once per step before backward(); if you accumulate on purpose over "
        "several batches, zero right after each optimizer.step()."
    ),
    before=snippet(
        """
        for x, y in loader:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        """
    ),
    after=snippet(
        """
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        """
    ),
    explains=("RD401", "RD502", "RD503", "RD507"),
)


@judges(RULE, StepStats)
def accumulation(stats: StepStats, options: Mapping[str, Any]) -> list[Finding]:
    """The second call of the user's step leaves about twice the gradient of the first."""
    if stats.cleared_after_step or stats.grad_growth is None or stats.grad_growth < 1.5:
        return []
    evidence = {"grad_growth": stats.grad_growth, "zero_grad_calls": stats.zero_grad_calls, "steps": stats.steps}
    return [RULE.finding(evidence)]


@remedy(RULE)
def gradients_zeroed(session: Session, finding: Finding) -> list[Trial] | str:
    """`optimizer.zero_grad()` after every step (with your `train_step`)."""
    if session.train_step_fn is None:
        return "rnndoctor's own step already zeroes the gradients"

    # Before every forward rather than after every step: an LBFGS closure runs several passes per step.
    def zero(session: Session) -> None:
        session.optimizer.zero_grad(set_to_none=True)

    return [Trial("optimizer.zero_grad() before every forward and backward", [before_forward(zero)])]

"""RD407: gradients clipped after optimizer.step() (the clipping changes nothing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.gradients import StepStats
from rnndoctor.runtime.patches import before_step, clip_gradients
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD407",
    checks=("training_step",),
    message=(
        "In the train_step {seen}, and nowhere before it: the clipping rescales gradients that the step has "
        "already applied, so no update is ever clipped. Exploding gradients reach the weights as if there "
        "were no clipping at all."
    ),
    remedy=(
        "Clip between backward and step:\n\n```python\nloss.backward()\n"
        "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\noptimizer.step()\n```"
    ),
    title="gradient clipping runs after `optimizer.step()` (it clips nothing)",
    severity=Severity.ERROR,
    what=(
        "Runs the configured train_step and records, in order, the optimizer's step and every call of "
        "torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (and any change to the gradients after the step). "
        "Clipping that happens only after the last optimizer step of the call is reported."
    ),
    why=(
        "Clipping rescales the gradients that the next optimizer step will use. Placed after step(), it "
        "rescales gradients that have already been applied and are cleared before the next backward: the "
        "update is never clipped, so the exploding gradients it was added for still reach the weights."
    ),
    symptoms=(
        "Loss spikes and NaN after some epochs exactly as without clipping, although the code clips; "
        "lowering max_norm changes nothing."
    ),
    fix="Clip between loss.backward() and optimizer.step().",
    before=snippet(
        """
        loss.backward()
        optimizer.step()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        """
    ),
    after=snippet(
        """
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        """
    ),
    explains=("RD401", "RD502"),
)


@judges(RULE, StepStats)
def clipping_order(stats: StepStats, options: Mapping[str, Any]) -> list[Finding]:
    """Clipping after the optimizer step changes gradients that were already applied."""
    if not stats.clipping_after_step:
        return []
    how = (
        "torch.nn.utils.clip_grad_norm_/clip_grad_value_ is called after optimizer.step()"
        if stats.clip_calls
        else "the gradients are rescaled after optimizer.step() (a clipping call imported under another name?)"
    )
    return [RULE.finding({"clip_calls": stats.clip_calls, "optimizer_steps": stats.steps, "seen": how})]


@remedy(RULE)
def clipping_moved(session: Session, finding: Finding) -> list[Trial] | str:
    """`clip_grad_norm_(..., 1.0)` before every `optimizer.step()`."""
    return [Trial("gradients clipped (norm 1.0) before optimizer.step()", [before_step(clip_gradients)])]

"""RD408: the user's train_step moves the weights the same at any learning rate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.measurements.gradients import RateControl

_RATE_IGNORED = (
    "The train_step moved the weights by {update_norm:.4g} at the configured learning rate and by "
    "{update_norm_at_half_rate:.4g} at half of it: it ignores the optimizer's rate. "
)
_RATE_SKIPPED = " rnndoctor cannot sweep or change the rate, so the learning-rate checks were skipped."

RULE = Rule(
    code="RD408",
    checks=("training_step",),
    message=(
        _RATE_IGNORED + "It calls optimizer.step(), so something inside it sets the rate itself (a scheduler "
        "such as OneCycleLR stepped in the train_step, or a rate written into param_groups)." + _RATE_SKIPPED
    ),
    remedy="Step schedulers outside the train_step (once per epoch or per step in your loop), not inside it.",
    variants={
        "manual_update": Wording(
            message=(
                _RATE_IGNORED + "It never calls optimizer.step(): it updates the weights by hand with a rate of "
                "its own (p.data.add_(p.grad, alpha=-lr))." + _RATE_SKIPPED
            ),
            remedy=(
                "Let the optimizer make the update, or read its rate in the manual update:\n\n```python\n"
                "optimizer.step()   # optimizer = torch.optim.{optimizer}(model.parameters(), lr=...)\n"
                "# or: lr = optimizer.param_groups[0]['lr']; p.data.add_(p.grad, alpha=-lr)\n```"
            ),
        )
    },
    title="the training step updates weights without the optimizer's learning rate",
    severity=Severity.INFO,
    what=(
        "Runs the configured train_step twice from the same weights and batch, once at the optimizer's "
        "learning rate and once at half of it, and reports when the weights move exactly the same both "
        "times: the step updates them by hand with a rate of its own (p.data.add_(p.grad, alpha=-lr) with a "
        "constant), or a scheduler inside the step overwrites the rate."
    ),
    why=(
        "The learning-rate range test, the one-batch fit's retry and every learning-rate verdict work by "
        "setting the optimizer's rate; a step that ignores it cannot be swept, so those checks are skipped. "
        "It is also easy to get wrong by hand: weight decay, momentum and gradient clipping interact with "
        "the update, and the rate lives in two places."
    ),
    symptoms=("The learning-rate checks are skipped; changing optimizer_args.lr changes nothing in training."),
    fix=(
        "Let the optimizer make the update (torch.optim.SGD(model.parameters(), lr=lr) and optimizer.step()), "
        "or read the rate from optimizer.param_groups[0]['lr'] in the manual update."
    ),
    before=snippet(
        """
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-20.0)
        """
    ),
    after=snippet(
        """
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()          # optimizer = torch.optim.SGD(model.parameters(), lr=20.0)
        """
    ),
)


@judges(RULE, RateControl)
def rate_control(control: RateControl, options: Mapping[str, Any]) -> list[Finding]:
    """The step moves the weights the same at the optimizer's rate and at half of it."""
    if control.follows_rate:
        return []
    evidence = {
        "update_norm": control.update,
        "update_norm_at_half_rate": control.half_rate_update,
        "calls_optimizer_step": control.calls_optimizer_step,
    }
    variant = None if control.calls_optimizer_step else "manual_update"
    return [RULE.finding(evidence, {"optimizer": control.optimizer}, variant=variant)]

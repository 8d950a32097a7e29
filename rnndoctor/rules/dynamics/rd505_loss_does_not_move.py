"""RD505: the loss does not move at all (in the one-batch fit or in a training history)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.logs.training_logs import History
from rnndoctor.logs.trends import CurveThresholds, finite_curves, is_flat
from rnndoctor.measurements.dynamics import OverfitRuns

RULE = Rule(
    code="RD505",
    options=(
        Option(
            "still_tolerance",
            0.001,
            'RD505: relative change of the loss below which it "does not move"',
            meaning="Relative change of the loss below which it does not move.",
            guards=("RD505",),
        ),
    ),
    checks=("overfit_batch",),
    message=(
        "Training on one fixed batch for {steps} steps at lr={lr:.2g} moved the loss from {initial_loss:.4g} to "
        "{final_loss:.4g} (a relative change of {relative_change:.1e}): no learning signal reaches the weights."
    ),
    remedy=(
        "Check that the loss depends on trainable parameters (no detach, no frozen model, a learning rate above "
        "zero) and that the optimizer holds the model's parameters."
    ),
    variants={
        "curve": Wording(
            message=(
                "The training loss stays at {last_loss:.4g}{chance} over {epochs} epochs (relative change "
                "{relative_change:.1e}): nothing is learned."
            ),
            remedy=(
                "Run `rnndoctor check` on the setup: a flat loss comes from a learning rate far too low, a "
                "detached or frozen model, collapsed labels or inputs that carry no signal."
            ),
        ),
    },
    title="loss does not move at all",
    severity=Severity.ERROR,
    what=(
        "Reports when the single-batch fit moves the loss by less than 0.1% of its starting value: no "
        "learning signal reaches the weights. `rnndoctor curves` reports it too when a training log's loss "
        "stays flat (noting when it sits at ln C, chance level)."
    ),
    why=(
        "A loss that does not change at all means the optimizer step has no effect on the output: the "
        "learning rate is zero, the optimizer holds other parameters, the gradients are all zero because "
        "the graph is cut, or step() is never called. Unlike slow learning, nothing will emerge with "
        "more time."
    ),
    symptoms=(
        "The same loss at every step to many decimal places (for example exactly 0.6931 every epoch); "
        "weights identical to their initial values."
    ),
    fix=(
        "Make sure optimizer.step() is called, that the optimizer was built from model.parameters() of "
        "the model being trained, and that the loss reaches the outputs without .item() or .detach() "
        "before backward()."
    ),
    before=snippet(
        """
        loss = loss_fn(model(x), y)
        loss = torch.tensor(loss.item(), requires_grad=True)   # a new leaf, not linked to the model
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        """
    ),
    after=snippet(
        """
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_value = loss.item()                               # for logging only
        """
    ),
)


@judges(RULE, OverfitRuns)
def still(runs: OverfitRuns, options: Mapping[str, Any]) -> list[Finding]:
    """The one-batch fit at the configured rate moved the loss by less than ``still_tolerance`` (relative)."""
    configured = runs.configured
    if configured.moved > float(options["still_tolerance"]) or configured.fitted:
        return []
    evidence = {
        "initial_loss": configured.initial_loss,
        "final_loss": configured.final_loss,
        "relative_change": configured.moved,
        "steps": configured.steps,
        "lr": configured.lr,
    }
    return [RULE.finding(evidence)]


@judges(RULE, History)
def flat_curve(history: History, options: Mapping[str, Any]) -> list[Finding]:
    """A training loss that changes by less than ``flat_change`` over the whole history."""
    values = [v for _, v in finite_curves(history)[0]]
    if len(values) < 3 or not is_flat(values, CurveThresholds.from_options(options).flat_change):
        return []
    first, last = values[0], values[-1]
    change = abs(first - last) / max(abs(first), 1e-12)
    chance = next(
        (
            f" (ln {c} = {math.log(c):.3f}: chance level for {c} classes)"
            for c in range(2, 1001)
            if abs(math.log(c) - last) < 0.005
        ),
        "",
    )
    return [
        RULE.finding(
            {"first_loss": first, "last_loss": last, "epochs": len(values), "relative_change": change},
            {"chance": chance},
            variant="curve",
        )
    ]

"""RD401: exploding or non-finite gradients (or a training curve that turns NaN)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.logs.training_logs import History
from rnndoctor.logs.trends import finite_curves
from rnndoctor.measurements.gradients import GradientStats
from rnndoctor.runtime.patches import before_step, clip_gradients
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD401",
    options=(
        Option(
            "exploding_norm",
            1000.0,
            "RD401: total gradient norm after one backward pass above this explodes",
            meaning=(
                "Total gradient norm after one backward pass above which gradients explode (any NaN/inf always counts)."
            ),
            guards=("RD401",),
        ),
    ),
    checks=("gradients",),
    message=(
        "The total gradient norm after one backward pass is {total_norm:.3g} (largest: '{largest_parameter}' with "
        "{largest_norm:.3g}). At this size a single step throws the weights far from where they were, and the "
        "loss jumps or becomes NaN."
    ),
    remedy=(
        "Clip the gradient norm in the training loop, and look for the cause (unscaled inputs, a recurrent "
        "weight scale above 1, a loss summed instead of averaged):\n\n```python\nloss.backward()\n"
        "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\noptimizer.step()\n```"
    ),
    variants={
        "non_finite": Wording(
            message=(
                "{count} parameter(s) get NaN or infinite gradients after one backward pass; nearest the output: "
                "'{first_from_output}'{loss_note}.{origin} The first optimizer step writes NaN into the weights "
                "and training is lost."
            ),
            remedy=(
                "Find the operation that overflows (log of 0, division by a zero length, exp of a large value) "
                "and guard it; clip gradients as a safety net:\n\n```python\n"
                "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n```"
            ),
        ),
        "curve": Wording(
            message=(
                "The loss becomes NaN or infinite at epoch {first_epoch:g}: gradients exploded or a value "
                "overflowed, and every weight is now NaN."
            ),
            remedy=(
                "Clip gradients, lower the learning rate, and check inputs and the loss for values that overflow "
                "(log of 0, division by a zero length)."
            ),
        ),
    },
    title="exploding or non-finite gradients",
    severity=Severity.ERROR,
    what=(
        "Backpropagates a real training batch and reports any NaN or infinite parameter gradient (naming the "
        "one nearest the output) or a total gradient norm above `exploding_norm` (1000 by default)."
    ),
    why=(
        "An update of learning rate times a huge gradient moves the weights far outside the region where "
        "the gradient was measured. In RNNs the repeated multiplication by the recurrent Jacobian makes "
        "such spikes likely on long sequences. One such step can saturate the network or overflow to Inf "
        "and NaN, and training does not recover."
    ),
    symptoms=(
        "Loss spikes suddenly and then turns nan; weights become nan; training goes well for a while and "
        "then diverges on particular batches."
    ),
    fix=(
        "Clip the gradient norm between backward() and step(), lower the learning rate, and remove the "
        "source of non-finite values (log of 0, division by 0, sqrt at 0) if there is one."
    ),
    before=snippet(
        """
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        """
    ),
    after=snippet(
        """
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        """
    ),
    explains=("RD502", "RD503", "RD504", "RD505", "RD506"),
)


@judges(RULE, GradientStats)
def exploding(stats: GradientStats, options: Mapping[str, Any]) -> list[Finding]:
    """A non-finite gradient anywhere, or a total gradient norm above ``exploding_norm``."""
    exploding_norm = float(options["exploding_norm"])
    bad = [name for name, value in stats.norms.items() if not math.isfinite(value)]
    if bad:
        first = bad[-1]
        loss_note = (
            f" (the loss itself is {stats.loss})" if stats.loss is not None and not math.isfinite(stats.loss) else ""
        )
        evidence = {
            "non_finite_parameters": bad[:10],
            "count": len(bad),
            "first_from_output": first,
            "loss": stats.loss,
            "non_finite_from": stats.non_finite_from,
            "non_finite_in": stats.non_finite_in,
        }
        origin = (
            f" The first module to produce NaN or Inf is '{stats.non_finite_from}', in the forward pass."
            if stats.non_finite_in == "forward"
            else f" The forward pass is finite; NaN or Inf first appear in the backward pass through "
            f"'{stats.non_finite_from}'."
            if stats.non_finite_in == "backward"
            else ""
        )
        return [RULE.finding(evidence, {"loss_note": loss_note, "origin": origin}, variant="non_finite")]
    if stats.total_norm <= exploding_norm:
        return []
    largest = max(stats.norms.items(), key=lambda kv: kv[1])
    evidence = {
        "total_norm": stats.total_norm,
        "largest_parameter": largest[0],
        "largest_norm": largest[1],
        "threshold": exploding_norm,
    }
    return [RULE.finding(evidence)]


@judges(RULE, History)
def non_finite_curve(history: History, options: Mapping[str, Any]) -> list[Finding]:
    """A training or validation loss that turned NaN or infinite somewhere in the history."""
    non_finite = finite_curves(history)[2]
    if not non_finite:
        return []
    return [RULE.finding({"first_epoch": non_finite[0], "epochs_affected": len(non_finite)}, variant="curve")]


@remedy(RULE)
def gradients_clipped(session: Session, finding: Finding) -> list[Trial] | str:
    """`clip_grad_norm_(..., 1.0)` before every `optimizer.step()`."""
    return [Trial("clip_grad_norm_(model.parameters(), 1.0) before optimizer.step()", [before_step(clip_gradients)])]

"""RD305: a per-timestep class-index loss reads classes from the wrong axis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.runtime.patches import loss_inputs_adapted
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD305",
    options=(
        Option(
            "class_axis_balance",
            0.001,
            "RD305: |sum of the loss gradient along the head's output axis| / its magnitude",
            meaning=(
                "The loss's gradient sums to zero along the axis it treats as classes; a relative sum above this "
                "along the last layer's output axis means the two axes differ."
            ),
            guards=("RD305",),
            notes=("(softmax gradients sum to 0 along the true class axis up to float error; other axes do not)",),
        ),
    ),
    crashes=(CrashSignature(r"expected target size", ("loss",)),),
    checks=("loss",),
    message=(
        "{loss} reads classes from axis 1 of its input, but the outputs are {output_shape} (batch, time, classes) "
        "with targets {target_shape}: the loss treats the {steps} time steps as classes and the {classes} class "
        "scores as time steps. {why}: the model trains on scrambled targets. (Measured: {measured}.)"
    ),
    remedy=(
        "Move the class axis to position 1 (or flatten time into the batch):\n\n```python\n"
        "loss = loss_fn(logits.permute(0, 2, 1), targets)        # (N, C, T) vs (N, T)\n"
        "# or: loss_fn(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))\n```"
    ),
    variants={
        "raises": Wording(
            message=(
                "{loss} reads classes from axis 1 of its input, but the outputs are {output_shape} (batch, time, "
                "classes) with targets {target_shape}: the loss treats the {steps} time steps as classes and the "
                "{classes} class scores as time steps. The loss raises: {error}"
            ),
        ),
        "crash": Wording(
            message=("The {stage_words} raised an error: the loss reads the class scores from the wrong axis. {error}"),
            remedy=("Put the class axis second for per-timestep losses: `loss_fn(logits.permute(0, 2, 1), targets)`."),
        ),
    },
    title="class axis misplaced for a per-timestep loss",
    severity=Severity.ERROR,
    what=(
        "Uses the fact that the gradient of a class-index loss with respect to its class scores sums to zero "
        "along the axis it treats as classes: it backpropagates the loss to the output of the model's last "
        "layer and reports when the gradient does not sum to zero along that layer's output axis. When time "
        "steps and classes differ in number, the loss raises and the (N, T, C) shapes are reported instead."
    ),
    why=(
        "CrossEntropyLoss always takes dimension 1 as the class axis ((batch, classes, time...)). Given "
        "(batch, time, classes) outputs, it applies the softmax over time steps, so the model learns to "
        "spread probability across positions instead of choosing a class. When the shapes happen to line "
        "up (as many steps as classes, soft targets, or targets reshaped to fit) nothing raises."
    ),
    symptoms=(
        'Loss falls a little but per-step accuracy stays near chance; or an error such as "Expected '
        'target size [32, 20], got [32, 50]" once the shapes stop lining up.'
    ),
    fix=(
        "Move the class axis to dimension 1 with permute(0, 2, 1) before the loss, or flatten outputs to "
        "(batch * time, classes) and targets to (batch * time,)."
    ),
    before=snippet(
        """
        logits = model(x)                                   # (batch, time, num_classes)
        loss = nn.CrossEntropyLoss()(logits, y)             # y: (batch, time)
        """
    ),
    after=snippet(
        """
        logits = model(x)                                   # (batch, time, num_classes)
        loss = nn.CrossEntropyLoss()(logits.permute(0, 2, 1), y)
        # or: nn.CrossEntropyLoss()(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        """
    ),
    explains=("RD307", "RD503"),
)


@judges(RULE, LossMeasurement)
def class_axis(m: LossMeasurement, options: Mapping[str, Any]) -> list[Finding]:
    """A per-timestep class-index loss reads classes from an axis other than the one the last layer
    produces. The gradient of the loss w.r.t. its class scores sums to zero along the class axis, so a sum
    above ``class_axis_balance`` along the head's feature axis means the two axes differ."""
    balance_tolerance = float(options["class_axis_balance"])
    if m.family != "index" or len(m.output_shape) < 3:
        return []
    shape_mismatch = m.loss_error is not None and tuple(m.output_shape[:-1]) == tuple(m.target_shape)
    gradient_says = m.class_axis_gradient_balance is not None and m.class_axis_gradient_balance > balance_tolerance
    if not (shape_mismatch or gradient_says or m.log_probabilities_on_wrong_axis):
        return []
    n, second, last = m.output_shape[0], m.output_shape[1], m.output_shape[-1]
    silent = m.loss_error is None
    evidence = {
        "loss": m.loss,
        "output_shape": list(m.output_shape),
        "target_shape": list(m.target_shape),
        "gradient_imbalance": m.class_axis_gradient_balance,
        "head": m.head_name,
        "silent": silent,
        "batch": n,
    }
    words: dict[str, object] = {"steps": second, "classes": last, "error": m.loss_error}
    if silent:
        words["why"] = (
            f"Because time steps and classes are both {second}, nothing raises"
            if second == last
            else "Nothing raises (the loss takes the shapes)"
        )
        words["measured"] = (
            f"the loss's gradient does not sum to zero along the head's output axis (imbalance "
            f"{m.class_axis_gradient_balance:.2g})"
            if gradient_says
            else "the outputs are log-probabilities along the last axis, not along axis 1"
        )
    return [RULE.finding(evidence, words, variant=None if silent else "raises")]


@remedy(RULE)
def class_axis_moved(session: Session, finding: Finding) -> list[Trial] | str:
    """Outputs permuted so the classes are on axis 1."""
    return [
        Trial("outputs.permute(0, 2, 1): classes on axis 1", [loss_inputs_adapted(outputs=lambda z: z.movedim(-1, 1))])
    ]

"""RD301: a regression loss on targets that are class ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.runtime.patches import class_ids, loss_replaced
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD301",
    options=(
        Option(
            "min_class_ids",
            3,
            "RD301: one value per sample taking exactly 0..K-1 with K at least this reads as class ids",
            meaning=(
                "One target per sample taking exactly the values 0..K-1, K at least this, reads as class ids "
                "regressed as numbers (two values, 0/1, are judged as binary labels instead)."
            ),
            guards=("RD301",),
        ),
    ),
    checks=("loss",),
    message=(
        "{loss} is a regression loss, but {cause} (values {values}). Squared error on class ids treats class 2 "
        "as 'twice' class 1 and gives weak, saturating gradients for probabilities, so accuracy plateaus."
    ),
    remedy=(
        "Use a classification loss on raw scores:\n\n```python\nloss_fn = nn.CrossEntropyLoss()"
        "          # outputs (N, C) logits, targets (N,) int64 ids\n"
        "# for 0/1 labels: nn.BCEWithLogitsLoss() with float targets of the outputs' shape\n```"
    ),
    title="regression loss on class-like targets",
    severity=Severity.ERROR,
    what=(
        "When the loss is a regression loss (MSELoss, L1Loss, SmoothL1Loss, HuberLoss), looks at the "
        "targets and reports when they are whole numbers drawn from a small set of values, that is, "
        "class ids."
    ),
    why=(
        "Regressing on class ids imposes an order and a distance between classes that do not exist "
        "(class 2 becomes halfway between 1 and 3), and the optimum is the average id, which rounds to a "
        "middle class. For 0/1 targets behind a sigmoid, the squared error also gives almost no gradient "
        "when the model is confidently wrong."
    ),
    symptoms=(
        "Predictions bunch around the mean label (0.5, or a middle class id); rounded accuracy stays "
        "near the majority share; loss plateaus."
    ),
    fix=(
        "Output one score per class and use CrossEntropyLoss with long targets, or BCEWithLogitsLoss on "
        "a single logit for a binary task."
    ),
    before=snippet(
        """
        self.head = nn.Linear(hidden_size, 1)
        loss_fn = nn.MSELoss()
        loss = loss_fn(model(x).squeeze(-1), y.float())     # y in {0, 1, 2, 3, 4}
        """
    ),
    after=snippet(
        """
        self.head = nn.Linear(hidden_size, 5)               # one logit per class
        loss_fn = nn.CrossEntropyLoss()
        loss = loss_fn(model(x), y.long())
        """
    ),
    explains=("RD307", "RD503", "RD504"),
)


@judges(RULE, LossMeasurement)
def regression_on_classes(m: LossMeasurement, options: Mapping[str, Any]) -> list[Finding]:
    """A regression loss on targets that are class ids (at most ``class_like_max_values`` distinct integers;
    one per sample taking exactly 0..K-1 with K >= ``min_class_ids``) or one-hot rows."""
    max_values, min_class_ids = int(options["class_like_max_values"]), int(options["min_class_ids"])
    if m.family != "regression" or not m.target_integer_valued:
        return []
    values = m.target_values
    if not values or len(values) > max_values or len(values) < 2:
        return []
    per_sample = len(m.target_shape) == 1 or (len(m.target_shape) == 2 and m.target_shape[-1] == 1)
    binary = set(values) <= {0.0, 1.0} and per_sample
    one_hot = m.target_one_hot and m.output_shape == m.target_shape
    many_outputs = len(m.output_shape) >= 2 and m.output_shape[-1] > 1 and m.output_shape != m.target_shape
    class_ids = per_sample and len(values) >= min_class_ids and values == [float(i) for i in range(len(values))]
    if not (one_hot or many_outputs or binary or class_ids):
        return []
    if one_hot:
        cause = f"the targets are one-hot rows over {m.target_shape[-1]} classes"
    elif many_outputs:
        cause = f"the model outputs {m.output_shape[-1]} scores per sample and the targets are class ids"
    elif class_ids:
        cause = f"the targets take exactly the values 0 to {len(values) - 1}: class ids regressed as numbers"
    else:
        cause = "the targets are 0/1 labels"
    severity = Severity.WARNING if (binary and not one_hot and not many_outputs) else None
    evidence = {
        "loss": m.loss,
        "target_values": values[:max_values],
        "output_shape": list(m.output_shape),
        "target_shape": list(m.target_shape),
    }
    words = {"cause": cause, "values": _values(values)}
    return [RULE.finding(evidence, words, severity=severity, confidence=0.8 if severity is None else 0.5)]


def _values(values: list[float]) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:8])
    return "{" + shown + (", ..." if len(values) > 8 else "") + "}"


class _CrossEntropyOnClassIds:
    """CrossEntropyLoss fed class ids whatever form the targets came in (one-hot rows, float ids, (N, 1))."""

    def __init__(self, loss_fn: Any) -> None:
        self._inner = torch.nn.CrossEntropyLoss(weight=getattr(loss_fn, "weight", None))

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss: torch.Tensor = self._inner(outputs, class_ids(targets, tuple(outputs.shape)).long())
        return loss


@remedy(RULE)
def classification_loss(session: Session, finding: Finding) -> list[Trial] | str:
    """The loss swapped for `CrossEntropyLoss` on class ids (or `BCEWithLogitsLoss` for 0/1 labels with one output)."""
    shape = tuple(finding.evidence.get("output_shape") or session.reference().outputs.shape)
    if len(shape) < 2 or shape[-1] < 2:
        if set(finding.evidence.get("target_values") or ()) <= {0.0, 1.0}:

            def logits_loss(loss_fn: Any) -> Any:
                inner = torch.nn.BCEWithLogitsLoss()
                return lambda out, tgt: inner(out, tgt.float().reshape(out.shape))

            return [
                Trial(f"{session.loss_name} → BCEWithLogitsLoss", [loss_replaced(logits_loss, "BCEWithLogitsLoss")])
            ]
        return "the model has one output per sample; a classifier needs one score per class"
    return [
        Trial(
            f"{session.loss_name} → CrossEntropyLoss on class ids",
            [loss_replaced(_CrossEntropyOnClassIds, "CrossEntropyLoss")],
        )
    ]

"""RD308: a multi-label loss (BCE) on one-hot rows of mutually exclusive classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import remedy
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.rules.loss.rd301_regression_loss_on_classes import classification_loss

RULE = Rule(
    code="RD308",
    checks=("loss",),
    message=(
        "{loss} scores each of the {classes} outputs as an independent yes/no label, but every target row is "
        "one-hot: exactly one class is true. The outputs are not pushed to compete, so predictions may mark "
        "several classes or none."
    ),
    remedy=(
        "Use a single-label loss on class ids:\n\n```python\nloss_fn = nn.CrossEntropyLoss()\n"
        "loss = loss_fn(logits, targets.argmax(dim=1))\n```"
    ),
    title="multi-label loss on single-label one-hot targets",
    severity=Severity.ERROR,
    what=(
        "When the loss is a multi-label one (BCELoss, BCEWithLogitsLoss, MultiLabelSoftMarginLoss) over "
        "several outputs, checks whether every target row holds exactly one 1, which makes the task "
        "single-label."
    ),
    why=(
        "A multi-label loss treats each class as an independent yes/no question, so the classes do not "
        'compete. With C classes, C - 1 of the answers in each row are "no", and predicting "no" '
        "everywhere already gives a low loss. The outputs are not a distribution over classes, so the "
        "argmax is poorly trained and the probabilities do not sum to one."
    ),
    symptoms=(
        "Loss drops quickly to a small value while accuracy stays low; all sigmoid outputs are small; "
        "predicted probabilities do not sum to 1."
    ),
    fix=(
        "Use CrossEntropyLoss with class ids (y_onehot.argmax(dim=1)); keep BCE losses for targets where "
        "several classes can be true at once."
    ),
    before=snippet(
        """
        y_onehot = F.one_hot(y, num_classes).float()
        loss = nn.BCEWithLogitsLoss()(logits, y_onehot)
        """
    ),
    after=snippet(
        """
        loss = nn.CrossEntropyLoss()(logits, y)     # y: class ids, shape (batch,)
        """
    ),
    explains=("RD307", "RD503"),
)


@judges(RULE, LossMeasurement)
def multilabel_on_single_label(m: LossMeasurement, options: Mapping[str, Any]) -> list[Finding]:
    """BCE on rows that are one-hot over mutually exclusive classes."""
    if m.family != "binary" or not m.target_one_hot or len(m.target_shape) < 2 or m.target_shape[-1] < 2:
        return []
    evidence = {"loss": m.loss, "classes": m.target_shape[-1], "target_shape": list(m.target_shape)}
    return [RULE.finding(evidence)]


remedy(RULE)(classification_loss)

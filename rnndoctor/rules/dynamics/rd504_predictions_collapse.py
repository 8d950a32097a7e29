"""RD504: predictions collapse to one class while fitting one batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.measurements.dynamics import OverfitRuns

RULE = Rule(
    code="RD504",
    checks=("overfit_batch",),
    message=(
        "After {steps} steps on one batch the model predicts a single class for every sample, while the batch "
        "holds {target_classes} classes: it settled on the majority answer."
    ),
    remedy=(
        "Look for what makes the input uninformative (normalization, a detached encoder, padding read instead "
        "of content) and balance the classes if one dominates."
    ),
    title="predictions collapse to one class",
    severity=Severity.WARNING,
    what=(
        "At the end of the single-batch fit that did not succeed, counts the distinct classes the model "
        "predicts on the batch and reports when it predicts one class for every sample although the batch "
        "holds several."
    ),
    why=(
        "Predicting the most frequent class is the cheapest way to reduce the loss early on. When the "
        "input signal is hard to reach (class imbalance, a learning rate that is too high, unnormalized "
        "inputs, a cut gradient path), the model settles there and the pull toward the other classes is "
        "too weak to get it out."
    ),
    symptoms=(
        "Accuracy equals the majority share (50% on a balanced binary task); the confusion matrix has "
        "one filled column; loss flat at the label entropy, 0.693 (= ln 2) for balanced binary labels."
    ),
    fix=(
        "Fix the root cause reported above it; common remedies are class weights in the loss, a lower "
        "learning rate and normalized inputs."
    ),
    before=snippet(
        """
        loss_fn = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        """
    ),
    after=snippet(
        """
        loss_fn = nn.CrossEntropyLoss(weight=class_weights)        # inverse class frequency
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        """
    ),
)


@judges(RULE, OverfitRuns)
def collapse(runs: OverfitRuns, options: Mapping[str, Any]) -> list[Finding]:
    """The configured run does not learn the batch and ends predicting one class for a batch of several."""
    configured = runs.configured
    if configured.learns(float(options["learned_share"])):
        return []
    if configured.predicted_classes != 1 or (configured.target_classes or 0) <= 1:
        return []
    evidence = {
        "predicted_classes": configured.predicted_classes,
        "target_classes": configured.target_classes,
        "accuracy": configured.accuracy,
    }
    return [RULE.finding(evidence, {"steps": configured.steps})]

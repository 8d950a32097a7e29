"""RD302: probabilities (softmax, sigmoid) fed to a loss that applies its own."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.runtime.patches import log_probabilities, loss_inputs_adapted
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD302",
    checks=("loss",),
    message=(
        "{loss} applies log-softmax itself, but the model's outputs are already probabilities "
        "(rows in [0, 1], each summing to 1) (last operation: {op}). The softmax is applied twice: gradients shrink, "
        "and the loss cannot go below a floor{floor} even when every prediction is right."
    ),
    remedy=(
        "Return raw scores from forward and let the loss apply the softmax; apply it yourself only when you "
        "need probabilities at inference:\n\n```python\n"
        "return self.{head}(h)            # not torch.softmax(self.{head}(h), ...)\n"
        "probs = torch.softmax(model(x), dim=-1)  # at inference only\n```"
    ),
    variants={
        "sigmoid": Wording(
            message=(
                "{loss} applies a sigmoid itself, but the model's outputs are already squashed into "
                "[{output_min:.3g}, {output_max:.3g}] (last operation: {op}). The sigmoid is applied twice: "
                "gradients shrink, and the loss cannot go below a floor{floor} even when every prediction is "
                "right."
            ),
            remedy=(
                "Return raw scores from forward and let the loss apply the sigmoid; apply it yourself only when "
                "you need probabilities at inference:\n\n```python\n"
                "return self.{head}(h)            # not torch.sigmoid(self.{head}(h), ...)\n"
                "probs = torch.sigmoid(model(x))  # at inference only\n```"
            ),
        ),
    },
    title="probabilities fed to a loss that expects logits",
    severity=Severity.ERROR,
    what=(
        "For losses that apply their own softmax or sigmoid, checks one batch's outputs: for "
        "CrossEntropyLoss, rows already in [0, 1] that sum to 1 along its class axis; for BCEWithLogitsLoss, "
        "outputs produced by a sigmoid (strictly inside (0, 1))."
    ),
    why=(
        "The loss normalizes again values that are already squashed into [0, 1], so its scores can "
        "differ by at most 1 and its distribution stays close to uniform. The loss then has a high floor "
        "it cannot go below, and the extra squashing shrinks every gradient, so learning is slow and "
        "soon stalls."
    ),
    symptoms=(
        "Loss falls a little and then plateaus well above zero (for two classes it cannot go below about "
        "0.31 = ln(1 + 1/e)); accuracy may improve while the loss hardly does."
    ),
    fix=(
        "Remove the final Softmax or Sigmoid from the model and give the loss raw logits; apply softmax "
        "only where you need probabilities, at inference."
    ),
    before=snippet(
        """
        self.head = nn.Sequential(nn.Linear(128, num_classes), nn.Softmax(dim=-1))
        loss_fn = nn.CrossEntropyLoss()
        """
    ),
    after=snippet(
        """
        self.head = nn.Linear(128, num_classes)
        loss_fn = nn.CrossEntropyLoss()
        probs = model(x).softmax(dim=-1)        # only when probabilities are needed
        """
    ),
    explains=("RD307", "RD402", "RD503", "RD505"),
)


@judges(RULE, LossMeasurement)
def probabilities_into_logit_loss(m: LossMeasurement, options: Mapping[str, Any]) -> list[Finding]:
    """Softmax-ed rows into CrossEntropyLoss, or sigmoid-ed values into BCEWithLogitsLoss."""
    if m.loss == "CrossEntropyLoss" and m.rows_are_probabilities:
        variant = None
    elif m.loss == "BCEWithLogitsLoss" and m.last_op.startswith("Sigmoid"):
        variant = "sigmoid"
    else:
        return []
    floor = None
    if m.loss == "CrossEntropyLoss" and m.num_classes:
        c = m.num_classes
        floor = -math.log(math.e / (math.e + c - 1))
    evidence = {
        "loss": m.loss,
        "output_min": m.output_min,
        "output_max": m.output_max,
        "last_op": m.last_op,
        "loss_floor": floor,
    }
    words = {
        "op": m.last_op or "unknown",
        "floor": f" of {floor:.3f} for {m.num_classes} classes" if floor is not None else "",
        "head": m.head,
    }
    return [RULE.finding(evidence, words, variant=variant)]


def _logits_of(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-12, 1 - 1e-7)
    return p.log() - (-p).log1p()


@remedy(RULE)
def activation_removed(session: Session, finding: Finding) -> list[Trial] | str:
    """The softmax (sigmoid) before the loss removed: the loss sees `log p` (`logit p`), the scores it had before the
    activation."""
    # log(softmax(z)) is z up to a per-row constant that softmax cancels, so the loss then sees the scores
    # the model had before its last activation: the same as deleting the activation from forward().
    if finding.evidence.get("loss") == "BCEWithLogitsLoss":
        return [Trial("the sigmoid before BCEWithLogitsLoss removed", [loss_inputs_adapted(outputs=_logits_of)])]
    return [Trial("the softmax before CrossEntropyLoss removed", [loss_inputs_adapted(outputs=log_probabilities)])]

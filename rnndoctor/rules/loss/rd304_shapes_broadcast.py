"""RD304: outputs and targets of different shapes into an element-wise loss (silent broadcasting)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.runtime.patches import loss_replaced
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD304",
    crashes=(
        CrashSignature(
            (
                r"target size .* must be the same as input size|must match the size of tensor|size mismatch"
                r"|expected input batch_size"
            ),
            ("loss",),
        ),
    ),
    checks=("loss",),
    message=("{loss} gets outputs of shape {output_shape} and targets of shape {target_shape}: {detail}."),
    remedy=("Make the shapes equal before the loss:\n\n```python\n{squeeze}\n```"),
    variants={
        "crash": Wording(
            message="The {stage_words} raised an error: the outputs and targets have different shapes. {error}",
            remedy="Make outputs and targets the same shape, e.g. `outputs.squeeze(-1)` for one output per sample.",
        ),
    },
    title="output and target shapes differ (silent broadcasting)",
    severity=Severity.ERROR,
    what=(
        "Compares the shapes of the outputs and the targets as they enter the loss, and for element-wise "
        "losses reports shapes that differ but broadcast, such as (batch, 1) against (batch,)."
    ),
    why=(
        "Element-wise losses broadcast their inputs: (batch, 1) against (batch,) becomes a (batch, "
        "batch) table in which every prediction is compared with every target. The best the model can do "
        "is predict the batch mean for all samples, so it learns nothing sample-specific. MSELoss and "
        "L1Loss only issue a warning."
    ),
    symptoms=(
        "Loss stalls at about the variance of the targets and the model predicts nearly the same value "
        "for every sample; a UserWarning says the target size differs from the input size."
    ),
    fix=("Make both shapes identical before the loss: squeeze the output's trailing axis or unsqueeze the target."),
    before=snippet(
        """
        pred = model(x)                     # (batch, 1)
        loss = nn.MSELoss()(pred, y)        # y: (batch,) -> broadcast to (batch, batch)
        """
    ),
    after=snippet(
        """
        pred = model(x).squeeze(-1)         # (batch,)
        loss = nn.MSELoss()(pred, y)
        """
    ),
    explains=("RD307", "RD503", "RD504"),
)


@judges(RULE, LossMeasurement)
def broadcast(m: LossMeasurement, options: Mapping[str, Any]) -> list[Finding]:
    """An element-wise loss on outputs and targets of different shapes."""
    if m.family not in ("regression", "binary") or m.output_shape == m.target_shape:
        return []
    broadcast = _broadcast_shape(m.output_shape, m.target_shape)
    if broadcast is None or m.family == "binary":
        detail = "the loss requires equal shapes and raises"
    else:
        detail = (
            f"they broadcast silently to {list(broadcast)}: every output is compared with every target of "
            "the batch, so the loss trains the model to predict the batch mean"
        )
    evidence = {
        "loss": m.loss,
        "output_shape": list(m.output_shape),
        "target_shape": list(m.target_shape),
        "broadcast_shape": list(broadcast) if broadcast is not None else None,
    }
    words = {"detail": detail, "squeeze": _squeeze_hint(m.output_shape, m.target_shape)}
    return [RULE.finding(evidence, words, explains=("RD307", "RD503"))]


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    result = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + a), reversed((1,) * (len(a) - len(b)) + b), strict=True):
        if x != y and 1 not in (x, y):
            return None
        result.append(max(x, y))
    return tuple(reversed(result))


def _squeeze_hint(output_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> str:
    if len(output_shape) == len(target_shape) + 1 and output_shape[-1] == 1:
        return "outputs = model(x).squeeze(-1)          # (N, 1) -> (N,)\nloss = loss_fn(outputs, targets)"
    if len(target_shape) == len(output_shape) + 1 and target_shape[-1] == 1:
        return "loss = loss_fn(outputs, targets.squeeze(-1))   # targets (N, 1) -> (N,)"
    return "assert outputs.shape == targets.shape, (outputs.shape, targets.shape)"


@remedy(RULE)
def shapes_matched(session: Session, finding: Finding) -> list[Trial] | str:
    """Outputs reshaped to the targets' shape."""

    def reshape(loss_fn: Any) -> Any:
        def call(outputs: Any, targets: Any) -> Any:
            tensors = isinstance(outputs, torch.Tensor) and isinstance(targets, torch.Tensor)
            if tensors and outputs.numel() == targets.numel():
                outputs = outputs.reshape(targets.shape)
            return loss_fn(outputs, targets)

        return call

    output_shape, target_shape = finding.evidence.get("output_shape"), finding.evidence.get("target_shape")
    if output_shape and target_shape and math.prod(output_shape) != math.prod(target_shape):
        return f"outputs {output_shape} and targets {target_shape} hold different numbers of values"
    return [Trial("outputs reshaped to the targets' shape (.squeeze(-1))", [loss_replaced(reshape)])]

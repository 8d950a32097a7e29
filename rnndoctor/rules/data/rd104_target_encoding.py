"""RD104: the targets' dtype or layout cannot work with the loss (most of these crash in torch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.data import TargetEncoding
from rnndoctor.runtime.patches import Patch, class_ids, loss_inputs_adapted, loss_replaced
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.task import loss_family

_TARGETS = "{loss} gets targets of dtype {target_dtype} and shape {target_shape}{outputs}: "
"""The start of every RD104 message: what the loss got."""

RULE = Rule(
    code="RD104",
    crashes=(
        CrashSignature(
            (
                r"expected (target )?(scalar type|dtype) .*(long|float)|expected floating point type for target"
                r"|can't be cast to the desired output type|multi-target not supported|found dtype \w+ but expected"
            ),
            ("loss", "backward"),
        ),
    ),
    checks=("labels",),
    message=_TARGETS + "class ids stored as floats; the loss needs int64 (long) ids.",
    remedy="Cast the targets when building the batch:\n\n```python\ntargets = targets.long()\n```",
    variants={
        "one_hot": Wording(
            message=_TARGETS + "they are one-hot rows, but the loss expects one class id per sample.",
            remedy="Turn the one-hot rows into class ids:\n\n```python\ntargets = targets.argmax(dim=1)\n```",
        ),
        "int_probabilities": Wording(
            message=(
                _TARGETS + "integer targets of the outputs' shape are read as class probabilities, which must be float."
            ),
            remedy="Give one class id per sample (`targets.argmax(dim=1)` for one-hot rows).",
        ),
        "extra_axis": Wording(
            message=_TARGETS + "the targets carry an extra axis of size 1; the loss wants shape (N,).",
            remedy="Drop the extra axis:\n\n```python\ntargets = targets.squeeze(-1).long()\n```",
        ),
        "real_valued": Wording(
            message=_TARGETS + "real-valued targets, but this loss needs integer class ids.",
            remedy=("Use a regression loss such as nn.MSELoss for real-valued targets, or convert them to class ids."),
        ),
        "int_ids": Wording(
            message=_TARGETS + "the loss needs int64 (long) class ids.",
            remedy="Cast the targets:\n\n```python\ntargets = targets.long()\n```",
        ),
        "binary_int": Wording(
            message=_TARGETS + "integer targets; this loss computes in floating point and refuses integer targets.",
            remedy="Cast the targets to float:\n\n```python\ntargets = targets.float()\n```",
        ),
        "binary_range": Wording(
            message=_TARGETS + "values span {target_min:g}..{target_max:g}, but binary targets must lie in [0, 1].",
            remedy=(
                "Map the labels to 0/1 (for -1/+1 labels: `targets = (targets > 0).float()`; for 1/2: "
                "`targets = targets - 1`)."
            ),
        ),
        "regression_int": Wording(
            message=_TARGETS + "integer targets; the backward pass of this loss fails with a dtype error.",
            remedy="Cast the targets to the outputs' dtype:\n\n```python\ntargets = targets.float()\n```",
        ),
        "crash": Wording(
            message=("The {stage_words} raised an error: the targets' dtype or layout does not fit the loss. {error}"),
            remedy="Give class-index losses int64 ids of shape (N,), and BCE/regression losses float targets.",
        ),
    },
    title="target dtype or encoding does not fit the loss",
    severity=Severity.ERROR,
    what=(
        "Checks the dtype and shape of the targets against what the configured loss expects: integer "
        "(long) class ids without a class axis for CrossEntropyLoss and NLLLoss, float targets of the "
        "output's shape for BCE losses, and floating-point values for regression losses."
    ),
    why=(
        "Each loss reads its target in one specific way. A mismatched dtype usually raises at the first "
        "loss call; a mismatched encoding can be worse, because it is silently read as something else, "
        "for example float targets with a class axis taken by CrossEntropyLoss as soft probabilities, or "
        "one-hot rows given to a loss that expects ids."
    ),
    symptoms=(
        'A RuntimeError such as "expected target dtype to be Long or Byte, but got Float" or "result '
        "type Float can't be cast to the desired output type Long\" on the first batch, or a loss value "
        "that makes no sense for the task."
    ),
    fix=(
        "Convert the targets where batches are built: .long() class ids for CrossEntropyLoss and "
        "NLLLoss, .float() values shaped like the output for BCEWithLogitsLoss and regression losses."
    ),
    before=snippet(
        """
        y = torch.tensor(labels, dtype=torch.float32)     # class ids stored as floats
        loss = nn.CrossEntropyLoss()(logits, y)
        """
    ),
    after=snippet(
        """
        y = torch.tensor(labels, dtype=torch.long)        # class ids, shape (batch,)
        loss = nn.CrossEntropyLoss()(logits, y)
        """
    ),
    explains=("RD307", "RD503", "RD505"),
)


@judges(RULE, TargetEncoding)
def target_encoding(enc: TargetEncoding, options: Mapping[str, Any]) -> list[Finding]:
    """The targets' dtype or layout cannot work with the loss (most of these crash in torch)."""
    problem = _encoding_problem(enc)
    if problem is None:
        return []
    evidence = {
        "loss": enc.loss,
        "target_dtype": enc.dtype,
        "target_shape": list(enc.target_shape),
        "output_shape": list(enc.output_shape) if enc.output_shape else None,
        "target_min": enc.min_value,
        "target_max": enc.max_value,
    }
    outputs = f" for outputs of shape {list(enc.output_shape)}" if enc.output_shape else ""
    return [RULE.finding(evidence, {"outputs": outputs}, variant=problem or None)]


def _encoding_problem(enc: TargetEncoding) -> str | None:
    """The RD104 wording that names what is wrong with the targets: a variant's name, "" for the rule's own
    (class ids stored as floats), None when the targets fit the loss."""
    same_shape = enc.output_shape is not None and enc.target_shape == enc.output_shape
    if enc.family == "index":
        if same_shape and enc.one_hot and (not enc.is_float or enc.loss == "NLLLoss"):
            return "one_hot"
        if same_shape and not enc.is_float:
            return "int_probabilities"
        if (
            enc.output_shape is not None
            and len(enc.target_shape) == len(enc.output_shape)
            and len(enc.target_shape) >= 2
            and enc.target_shape[-1] == 1
            and not same_shape
        ):
            return "extra_axis"
        if enc.is_float and not same_shape:
            return "" if enc.integer_valued else "real_valued"
        if not enc.is_float and enc.dtype not in ("torch.int64", "torch.uint8"):
            return "int_ids"
    if enc.family == "binary":
        if not enc.is_float:
            return "binary_int"
        if enc.min_value < 0 or enc.max_value > 1:
            return "binary_range"
    if enc.family == "regression" and not enc.is_float:
        return "regression_int"
    return None


@remedy(RULE)
def targets_encoded(session: Session, finding: Finding) -> list[Trial] | str:
    """Targets converted to what the loss expects (integer class ids, or floats of the outputs' shape)."""
    family = loss_family(session.loss_name)
    if family == "index":

        def ids(targets: torch.Tensor) -> torch.Tensor:
            shape = tuple(finding.evidence.get("output_shape") or ())
            return class_ids(targets, shape).round().long()

        return [Trial("targets as integer class ids", [loss_inputs_adapted(targets=ids)])]
    if family in ("binary", "regression"):
        return [Trial("targets as float of the outputs' shape", [_float_targets_like_outputs()])]
    return f"no automatic encoding for {session.loss_name}"


def _float_targets_like_outputs() -> Patch:
    def make(loss_fn: Any) -> Any:
        def call(outputs: Any, targets: Any) -> Any:
            if isinstance(outputs, torch.Tensor) and isinstance(targets, torch.Tensor):
                targets = targets.to(outputs.dtype)
                if targets.numel() == outputs.numel():
                    targets = targets.reshape(outputs.shape)
            return loss_fn(outputs, targets)

        return call

    return loss_replaced(make)

"""RD103: class ids below 0 or at/above the number of classes the model outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.data import RangeStats
from rnndoctor.runtime.patches import loss_inputs_adapted
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.targets import targets_of

RULE = Rule(
    code="RD103",
    crashes=(CrashSignature(r"target -?\d+ is out of bounds|out of bounds|device-side assert", ("loss",)),),
    checks=("labels",),
    message=(
        "{out_of_range} of {targets} sampled targets are outside the model's output range. The ids span "
        "{min_id}..{max_id} but the model outputs {num_classes} classes (valid ids 0..{last_id}). On the CPU the "
        "loss raises 'Target out of bounds'; on CUDA it is a device-side assert."
    ),
    remedy=(
        "Size the output layer to the number of classes, or remap the labels to 0..C-1:\n\n"
        "```python\nnum_classes = int(train_targets.max()) + 1\nmodel.fc = nn.Linear(hidden_size, num_classes)\n"
        "```{negative}"
    ),
    variants={
        "one_based": Wording(
            message=(
                "{out_of_range} of {targets} sampled targets are outside the model's output range. The ids run "
                "from {min_id} to {max_id}: they look 1-based, while {loss} expects 0 to {last_id}. On the CPU "
                "the loss raises 'Target out of bounds'; on CUDA it is a device-side assert."
            ),
            remedy="Shift the labels to start at 0:\n\n```python\ntargets = targets - 1\n```",
        ),
        "crash": Wording(
            message=(
                "The {stage_words} raised an error: a class id is outside the range of classes the model outputs. "
                "{error}"
            ),
            remedy="Make the output layer as wide as the number of classes, or remap labels to 0..C-1.",
        ),
    },
    title="class ids outside the model's output range",
    severity=Severity.ERROR,
    what=(
        "Compares the smallest and largest class id in the sampled targets with the size of the model's "
        "class axis, and reports any id that is negative (other than the loss's ignore_index) or not "
        "smaller than the number of output classes."
    ),
    why=(
        "Class-index losses such as CrossEntropyLoss and NLLLoss use the target to index the output, so "
        "an id past the end has no score to pick. On the CPU this raises; on CUDA it triggers a "
        "device-side assert that leaves the CUDA context unusable and is often reported at a later, "
        "unrelated line. The usual causes are labels numbered from 1 instead of 0, or an output layer "
        "sized for fewer classes than the data contains."
    ),
    symptoms=(
        '"IndexError: Target 10 is out of bounds" on the first batch, or "CUDA error: device-side assert '
        'triggered" that may only show up on some batches.'
    ),
    fix=(
        "Remap the labels to 0 .. C-1 (for example subtract 1 from 1-based labels) and size the final "
        "layer to the real number of classes."
    ),
    before=snippet(
        """
        num_classes = 10
        model.head = nn.Linear(hidden_size, num_classes)
        y = torch.tensor(labels)                  # labels numbered 1 .. 10
        loss = loss_fn(model(x), y)
        """
    ),
    after=snippet(
        """
        num_classes = 10
        model.head = nn.Linear(hidden_size, num_classes)
        y = torch.tensor(labels) - 1              # 0 .. 9, as the loss expects
        loss = loss_fn(model(x), y)
        """
    ),
    explains=("RD307", "RD503", "RD505"),
)


@judges(RULE, RangeStats)
def class_range(stats: RangeStats, options: Mapping[str, Any]) -> list[Finding]:
    """Class ids below 0 or at/above the number of classes the model outputs."""
    if stats.out_of_range == 0:
        return []
    one_based = stats.min_id >= 1 and stats.max_id == stats.num_classes
    evidence = {
        "num_classes": stats.num_classes,
        "min_id": stats.min_id,
        "max_id": stats.max_id,
        "out_of_range": stats.out_of_range,
        "targets": stats.total,
        "one_based": one_based,
    }
    negative = (
        f"\n\nNegative ids are only allowed as the loss's ignore_index (currently {stats.ignore_index})."
        if stats.min_id < 0
        else ""
    )
    words = {"loss": stats.loss or "the loss", "last_id": stats.num_classes - 1, "negative": negative}
    return [RULE.finding(evidence, words, variant="one_based" if one_based else None)]


@remedy(RULE)
def class_ids_remapped(session: Session, finding: Finding) -> list[Trial] | str:
    """1-based class ids shifted to 0, or the observed ids mapped onto 0..C-1."""
    if finding.evidence.get("one_based"):
        return [Trial("class ids shifted to start at 0 (targets - 1)", [loss_inputs_adapted(targets=lambda t: t - 1)])]
    classes = int(finding.evidence.get("num_classes") or 0)
    observed = torch.unique(torch.cat([t.reshape(-1) for t in targets_of(session, "train")])).long()
    if classes <= 0 or observed.numel() > classes:
        return f"{observed.numel()} distinct class ids for {classes} outputs: no mapping fits"
    ids = observed.to(session.device)

    def remapped(targets: torch.Tensor) -> torch.Tensor:
        return torch.searchsorted(ids.to(targets.device), targets.long()).clamp_max(classes - 1)

    return [
        Trial(
            f"the {observed.numel()} class ids mapped to 0..{observed.numel() - 1}",
            [loss_inputs_adapted(targets=remapped)],
        )
    ]

"""RD102: the majority class outnumbers the minority by a large factor."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.data import LabelStats
from rnndoctor.runtime.patches import loss_replaced
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.task import LANGUAGE_MODEL

RULE = Rule(
    code="RD102",
    options=(
        Option(
            "imbalance_ratio",
            10.0,
            "RD102: majority/minority count ratio at or above which classes are imbalanced",
            meaning=(
                "Count of the most frequent class over the least frequent one at or above which the classes are "
                "called imbalanced."
            ),
            guards=("RD102",),
        ),
        Option(
            "min_samples_per_class",
            20,
            "RD102: judged only with at least this many sampled targets per class",
            meaning=(
                "Imbalance is judged only when the sampled targets hold at least this many per class, so a tiny "
                "sample does not raise it."
            ),
            guards=("RD102",),
        ),
        Option(
            "max_classes",
            100,
            "RD102: not judged above this many classes (vocabulary-like targets are skewed by nature)",
            meaning=(
                "Imbalance is not judged above this many classes: vocabulary-like targets (next-token prediction) are"
                " skewed by nature."
            ),
            guards=("RD102",),
        ),
    ),
    checks=("labels",),
    message=(
        "Class {majority_class} makes up {majority_share:.1%} of the sampled targets and class {minority_class} "
        "only {minority_share:.1%} ({ratio:.1f}x fewer). Predicting class {majority_class} everywhere already "
        "scores {majority_share:.1%} accuracy, so accuracy alone will hide a model that ignores the rare classes."
    ),
    remedy=(
        "Weight the loss by inverse class frequency or resample the training set, and track a balanced metric "
        "(balanced accuracy, macro F1):\n\n```python\ncounts = torch.bincount(train_targets)\n"
        "weights = counts.sum() / (len(counts) * counts.float())\nloss_fn = nn.{loss}(weight=weights)\n```"
    ),
    title="strong class imbalance",
    severity=Severity.WARNING,
    what=(
        "Counts how often each class id occurs in the sampled training batches and reports when the "
        "ratio between the most and the least frequent class, or the share of the majority class, passes "
        "a threshold."
    ),
    why=(
        "A loss averaged over samples is dominated by the frequent class, so always predicting it is a "
        "deep, easy minimum. Gradients from the rare classes are few and get outweighed in every batch, "
        "and the model may never leave the constant prediction. Plain accuracy then rewards that "
        "failure."
    ),
    symptoms=(
        "Accuracy looks good but equals the majority share (say 95%); recall on the rare classes is "
        "zero, the confusion matrix has one filled column, and macro-F1 is low."
    ),
    fix=(
        "Weight the loss by inverse class frequency (CrossEntropyLoss(weight=...)) or oversample rare "
        "classes with a WeightedRandomSampler, and track per-class recall or macro-F1 instead of "
        "accuracy."
    ),
    before=snippet(
        """
        loss_fn = nn.CrossEntropyLoss()
        loader = DataLoader(train_ds, batch_size=32, shuffle=True)   # 95% of the labels are class 0
        """
    ),
    after=snippet(
        """
        counts = torch.bincount(train_labels, minlength=num_classes).float()
        weights = counts.sum() / (num_classes * counts.clamp(min=1))
        loss_fn = nn.CrossEntropyLoss(weight=weights)
        loader = DataLoader(train_ds, batch_size=32, shuffle=True)
        """
    ),
)


@judges(RULE, LabelStats)
def imbalance(stats: LabelStats, options: Mapping[str, Any]) -> list[Finding]:
    """The majority class outnumbers the minority by ``imbalance_ratio`` or more.

    Judged only when the sample holds at least ``min_samples_per_class`` targets per observed class on
    average (with fewer, a rare class's count is mostly sampling noise), and not for next-token targets or
    above ``max_classes`` classes (vocabulary-like targets are skewed by nature).
    """
    ratio_threshold, min_per_class = float(options["imbalance_ratio"]), int(options["min_samples_per_class"])
    if stats.task_kind == LANGUAGE_MODEL or len(stats.counts) > int(options["max_classes"]):
        return []
    if len(stats.counts) < 2:
        return []
    if stats.total < min_per_class * len(stats.counts):
        return []
    majority, majority_count = max(stats.counts.items(), key=lambda kv: (kv[1], -kv[0]))
    minority, minority_count = min(stats.counts.items(), key=lambda kv: (kv[1], kv[0]))
    ratio = majority_count / minority_count
    if ratio < ratio_threshold:
        return []
    majority_share = majority_count / stats.total
    minority_share = minority_count / stats.total
    severity = Severity.INFO if stats.task_kind == "per-timestep tagging" else None
    evidence = {
        "majority_class": majority,
        "majority_share": majority_share,
        "minority_class": minority,
        "minority_share": minority_share,
        "ratio": ratio,
        "counts": dict(sorted(stats.counts.items())),
        "samples": stats.total,
    }
    return [
        RULE.finding(
            evidence,
            {"loss": stats.loss or "CrossEntropyLoss"},
            severity=severity,
            confidence=min(1.0, 0.5 + math.log10(ratio / ratio_threshold + 1)),
        )
    ]


@remedy(RULE)
def class_weights(session: Session, finding: Finding) -> list[Trial] | str:
    """`CrossEntropyLoss(weight=...)` with inverse class frequencies of the sampled targets."""
    if session.loss_name != "CrossEntropyLoss":
        return f"class weights are tried for CrossEntropyLoss only (the loss is {session.loss_name})"
    counts = {int(k): int(v) for k, v in (finding.evidence.get("counts") or {}).items()}
    outputs = session.reference().outputs
    if not counts or not isinstance(outputs, torch.Tensor) or outputs.dim() < 2:
        return "the class counts or the model's class axis are unknown"
    classes = int(outputs.shape[1])
    if max(counts) >= classes or min(counts) < 0:
        return "class ids outside the model's outputs"
    total = sum(counts.values())
    weight = torch.tensor(
        [total / (len(counts) * counts[c]) if counts.get(c) else 1.0 for c in range(classes)], dtype=torch.float32
    )

    def weighted(loss_fn: Any) -> Any:
        inner = torch.nn.CrossEntropyLoss(
            weight=weight.to(session.device), ignore_index=getattr(loss_fn, "ignore_index", -100)
        )
        return inner

    return [Trial("CrossEntropyLoss(weight=inverse class frequencies)", [loss_replaced(weighted)], balanced=True)]

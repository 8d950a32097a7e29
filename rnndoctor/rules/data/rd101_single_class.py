"""RD101: every sampled training target is the same class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.data import LabelStats

RULE = Rule(
    code="RD101",
    options=(
        Option(
            "min_single_class_samples",
            8,
            "RD101: judged only on at least this many sampled targets",
            meaning="All targets being one class is judged only when the sample holds at least this many targets.",
            guards=("RD101",),
        ),
    ),
    checks=("labels",),
    message=(
        "All {count} sampled training targets ({sample}) are class {class}{outputs} A model that always predicts "
        "it scores 100% on this data and learns nothing; on real data that holds other classes it is wrong on "
        "all of them."
    ),
    remedy=(
        "Check the code that builds the labels: a mapping or a filter that overwrites classes (e.g. "
        "`labels[labels == 1] = 0`), a label column read from the wrong field, or a threshold that puts every "
        "sample on one side.\n\n```python\nimport collections\n"
        "print(collections.Counter(int(y) for _, y in train_dataset))\n```"
    ),
    title="all training targets are one class",
    severity=Severity.ERROR,
    what=(
        "Counts class ids over the sampled training batches, leaving out positions equal to the loss's "
        "ignore_index, and reports when every remaining target has the same value."
    ),
    why=(
        "With a single class in the data, the loss is minimised by a constant prediction that ignores "
        "the input: the output bias learns it and no weight ever receives a signal to tell inputs apart. "
        "The model looks perfect on the training set and has learned nothing. The usual causes are a "
        "label column overwritten or read from the wrong field, a filter that dropped the other classes, "
        "or a dataset sorted by label and read without shuffling, so that the first batches all share "
        "one class."
    ),
    symptoms=(
        "Training loss drops almost at once to near zero and training accuracy is 100%, yet the model "
        "predicts the same class for every input on validation or new data."
    ),
    fix=(
        "Check the label pipeline end to end (print torch.bincount of the targets) and shuffle the "
        "training loader so that every batch mixes classes."
    ),
    before=snippet(
        """
        dataset = TensorDataset(x, y)                    # rows stored sorted by label
        loader = DataLoader(dataset, batch_size=32)      # the first batches hold class 0 only
        """
    ),
    after=snippet(
        """
        dataset = TensorDataset(x, y)
        print(torch.bincount(y))                         # several classes, each with samples
        loader = DataLoader(dataset, batch_size=32, shuffle=True)
        """
    ),
    explains=("RD102", "RD307", "RD503", "RD504", "RD505", "RD506", "RD507", "RD601"),
)


@judges(RULE, LabelStats)
def single_class(stats: LabelStats, options: Mapping[str, Any]) -> list[Finding]:
    """Every sampled target is the same class although the model can output several (judged on at least
    ``min_single_class_samples`` targets)."""
    if stats.total < int(options["min_single_class_samples"]) or len(stats.counts) != 1:
        return []
    ((label, count),) = stats.counts.items()
    classes = stats.num_classes
    if classes is not None and classes < 2:
        return []
    evidence = {"class": label, "count": count, "distinct_classes": 1, "num_classes": classes, "task": stats.task_kind}
    outputs = f", although the model outputs {classes} classes." if classes else "."
    return [RULE.finding(evidence, {"sample": stats.sample, "outputs": outputs})]

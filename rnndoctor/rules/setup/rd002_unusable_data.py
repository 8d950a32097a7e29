"""RD002: the data yields no batch a check could use (`rnndoctor.core.crashes.unusable_data_finding`)."""

from __future__ import annotations

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Severity

RULE = Rule(
    code="RD002",
    message="No usable batches: {cause}. Nothing can be trained or checked on this data.",
    remedy=(
        "Make the loader yield (inputs, targets) or (inputs, targets, lengths) tuples, or dicts with those keys; "
        "for dicts with other keys set `batch_keys: {{inputs: input_ids, targets: labels}}` in the config; "
        "for another layout give `forward: steps.py:forward_batch` (a fn(model, batch) -> (outputs, targets))."
    ),
    variants={
        "validation": Wording(
            message="No usable batches: {cause}. Checks that compare training with validation cannot run."
        ),
    },
    title="the data yields no usable batches",
    severity=Severity.ERROR,
    what=(
        "Draws the first batches from the training (and validation) data and reports when there are none, "
        "or when a batch is not (inputs, targets), (inputs, targets, lengths) or a dict with those keys "
        "and no forward function says how to use it."
    ),
    why=(
        "An empty loader trains nothing: every epoch ends at once and the weights never change. A batch in "
        "an unexpected layout means the model is called with the wrong arguments."
    ),
    symptoms=(
        "Epochs that finish instantly with no loss printed, or a loss that is never computed; a DataLoader "
        "with drop_last=True and a batch size larger than the dataset."
    ),
    fix=(
        "Make the loader yield (inputs, targets[, lengths]) batches (check len(loader) > 0, drop_last, the "
        "dataset's filters), or give `forward: steps.py:forward_batch` in the config for another layout."
    ),
    before=snippet(
        """
        loader = DataLoader(dataset, batch_size=256, drop_last=True)  # only 200 samples
        """
    ),
    after=snippet(
        """
        loader = DataLoader(dataset, batch_size=32, shuffle=True)
        assert len(loader) > 0
        """
    ),
)

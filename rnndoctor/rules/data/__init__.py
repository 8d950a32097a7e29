"""Data rules (RD1xx): what the sampled batches hold, judged before any training."""

FAMILY = "data"
EXAMPLES = (
    "labels collapsed to one class, strong imbalance, 1-based class ids, float ids for "
    "`CrossEntropyLoss`, NaN inputs, unscaled inputs, constant features, mostly-padding batches, token "
    "ids beyond the embedding, train/val label shift, validation samples copied from training"
)
"""What the family finds, in the README's catalogue (`rnndoctor.docgen`)."""

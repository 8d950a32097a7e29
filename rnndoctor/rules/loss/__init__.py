"""Loss and target rules (RD3xx): whether the loss gets what it expects, in the shape and encoding it expects."""

FAMILY = "loss and targets"
EXAMPLES = (
    "softmax fed to `CrossEntropyLoss`, raw scores to `NLLLoss`, silent broadcasting, class axis "
    "misplaced, targets not shifted against the inputs"
)
"""What the family finds, in the README's catalogue (`rnndoctor.docgen`)."""

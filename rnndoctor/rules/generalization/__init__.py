"""Generalization rules (RD6xx): what a training and validation history shows."""

FAMILY = "generalization"
EXAMPLES = "overfitting: validation loss turns up while training loss keeps falling"
"""What the family finds, in the README's catalogue (`rnndoctor.docgen`)."""

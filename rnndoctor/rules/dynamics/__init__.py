"""Training-dynamics rules (RD5xx): the learning rate, fitting one batch, collapsed predictions, a loss that
does not move, a model that ignores its input, training stuck at chance level."""

FAMILY = "training dynamics"
EXAMPLES = "learning rate off by orders of magnitude, cannot overfit one batch, training stuck at chance level"
"""What the family finds, in the README's catalogue (`rnndoctor.docgen`)."""

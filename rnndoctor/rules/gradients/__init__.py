"""Gradient rules (RD4xx): gradients that explode, vanish across layers or through time, accumulate, or are
clipped too late; updates of the wrong size; steps taken in eval mode or deaf to the learning rate."""

FAMILY = "gradients"
EXAMPLES = (
    "exploding/vanishing gradients, no `zero_grad`, clipping after `optimizer.step()`, a step that "
    "ignores the learning rate"
)
"""What the family finds, in the README's catalogue (`rnndoctor.docgen`)."""

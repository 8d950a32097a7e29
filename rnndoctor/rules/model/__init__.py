"""Model-structure rules (RD2xx): recurrent layers as declared and as fed, how samples, steps and padding
reach the outputs, and which parameters train."""

FAMILY = "model structure"
EXAMPLES = (
    "input size mismatch, `batch_first` mix-up, padding leaks, batch mixing, detached or unregistered "
    "modules, a causal mask that lets a next-token model see the future"
)
"""What the family finds, in the README's catalogue (`rnndoctor.docgen`)."""

"""Setup rules (RD0xx): the user's code crashed in a way no other rule explains, or the data is unusable."""

FAMILY = "setup"
EXAMPLES = "your code crashed in a way no other rule explains, data that yields no usable batch"
"""What the family finds, in the README's catalogue (`rnndoctor.docgen`)."""

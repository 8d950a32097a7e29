"""Setup rules (RD0xx): the user's code crashed in a way no other rule explains, or the data is unusable."""

FAMILY = "setup"

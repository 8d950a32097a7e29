"""Loss and target rules (RD3xx): whether the loss gets what it expects, in the shape and encoding it expects."""

FAMILY = "loss and targets"

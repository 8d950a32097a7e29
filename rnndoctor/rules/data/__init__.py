"""Data rules (RD1xx): what the sampled batches hold, judged before any training."""

FAMILY = "data"

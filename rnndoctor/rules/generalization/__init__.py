"""Generalization rules (RD6xx): what a training and validation history shows."""

FAMILY = "generalization"

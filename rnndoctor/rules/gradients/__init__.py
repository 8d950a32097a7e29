"""Gradient rules (RD4xx): gradients that explode, vanish across layers or through time, accumulate, or are
clipped too late; updates of the wrong size; steps taken in eval mode or deaf to the learning rate."""

FAMILY = "gradients"

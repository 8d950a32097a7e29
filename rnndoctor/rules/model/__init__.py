"""Model-structure rules (RD2xx): recurrent layers as declared and as fed, how samples, steps and padding
reach the outputs, and which parameters train."""

FAMILY = "model structure"

"""Script mode: diagnose a training script by running it, unmodified, under observation.

The script runs in a thread of its own with hooks on torch's public extension points (module calls,
optimizer steps, backward, the loss functions, gradient clipping, ``torch.save``). Each time it starts a
new training step it pauses and hands control to the diagnosis, which then decides what the next step
trains on and at which rate. The checks see the modules the script trains, the batches it feeds them and
the loss it computes, and a check that trains advances the script's own loop.
"""

from __future__ import annotations

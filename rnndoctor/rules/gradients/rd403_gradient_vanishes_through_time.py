"""RD403: the input gradient fades within a few steps of the end (no long-range memory)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.model import TimeProfile
from rnndoctor.render.plots import sparkline

RULE = Rule(
    code="RD403",
    options=(
        Option(
            "min_memory_steps",
            6,
            "RD403: an effective memory shorter than this many steps is reported",
            meaning="An effective memory shorter than this is reported (on sequences at least 4x as long).",
            guards=("RD403",),
        ),
    ),
    checks=("probes",),
    message=(
        "The gradient reaching the inputs falls by {orders:g} orders of magnitude within {effective_memory} "
        "step(s) of the end of {steps}-step sequences: effectively the model only learns from the last "
        "{effective_memory} step(s). Gradient per step (log scale, oldest left): {chart}"
    ),
    remedy=(
        "Keep the recurrent path in its sensitive range: normalized inputs, a gated cell (LSTM/GRU) instead of "
        "nn.RNN, forget-gate bias initialized to 1, or shorter sequences:\n\n```python\n"
        "for name, p in $rnn_of_model.named_parameters():\n    if 'bias' in name:\n"
        "        n = p.shape[0] // $gate_count\n        p.data[n:2 * n].fill_(1.0)   # $gate\n```"
    ),
    title="gradient vanishes through time",
    severity=Severity.WARNING,
    what=(
        "Backpropagates the output at each probed sample's last step to the inputs (or embedding outputs) and"
        " measures the input-gradient norm at every earlier step; the effective memory is how many steps back"
        " it stays within `memory_orders` (3) orders of magnitude of the last step. Reported when that is "
        "under `min_memory_steps` (6) on sequences at least four times as long; a default LSTM keeps about a "
        "dozen steps at initialization."
    ),
    why=(
        "How a late output depends on an early input passes through the product of the per-step "
        "recurrent Jacobians. When their norms are below one, that product decays exponentially with the "
        "distance, so the model gets no signal to use early information and can learn only short-range "
        "patterns."
    ),
    symptoms=(
        "The model fails whenever the answer depends on the start of the sequence (long-sequence "
        "classification stays at chance); cutting off the early steps does not change the results."
    ),
    fix=(
        "Use an LSTM or GRU instead of a plain RNN, set the LSTM forget-gate bias to 1 at "
        "initialization, and give early steps a short path to the loss (pooling or attention over all "
        "steps), or shorten the sequences."
    ),
    before=snippet(
        """
        self.rnn = nn.RNN(n_in, hidden, batch_first=True)   # sequences of 1000 steps

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])
        """
    ),
    after=snippet(
        """
        self.rnn = nn.LSTM(n_in, hidden, batch_first=True)
        with torch.no_grad():
            self.rnn.bias_ih_l0[hidden:2 * hidden].fill_(1.0)   # forget gate

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out.mean(dim=1))          # every step reaches the loss directly
        """
    ),
)


@judges(RULE, TimeProfile)
def time_profile(profile: TimeProfile, options: Mapping[str, Any]) -> list[Finding]:
    """The input gradient falls ``memory_orders`` orders of magnitude within fewer than ``min_memory_steps``
    steps of the end, on sequences at least four times that long."""
    orders, min_steps = float(options["memory_orders"]), int(options["min_memory_steps"])
    if profile.steps < 4 * min_steps:
        return []
    memory = profile.memory(orders)
    if memory >= min_steps:
        return []
    evidence = {
        "effective_memory": memory,
        "steps": profile.steps,
        "orders": orders,
        "profile_log10": [round(math.log10(v), 2) if v > 0 else None for v in profile.profile[:64]],
    }
    return [RULE.finding(evidence, {"chart": sparkline(list(reversed(profile.profile)))})]

"""RD402: gradients vanish down the stack of layers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.gradients import GradientStats

RULE = Rule(
    code="RD402",
    options=(
        Option(
            "vanishing_ratio",
            0.001,
            "RD402: earliest recurrent layer's RMS gradient / the last layer's, below this",
            meaning=(
                "RMS gradient of the earliest recurrent layer's hidden-to-hidden weights over the last layer's, below"
                " which gradients vanish down the stack."
            ),
            guards=("RD402",),
        ),
    ),
    checks=("gradients",),
    message=(
        "The earliest recurrent weights ('{earliest}') get gradients {ratio:.2g} times as large as the last "
        "layer's ('{last}'): the signal fades on its way down the stack, so the lower layers barely learn."
    ),
    remedy=(
        "Use fewer stacked layers, add residual connections or layer normalization between them, and check "
        "for saturated activations:\n\n```python\n$rnn = nn.$Rnn($rnn_sizes, "
        "num_layers=2$rnn_bidirectional, batch_first=$batch_first)   # instead of 6+\n```"
    ),
    title="vanishing gradients across layers",
    severity=Severity.WARNING,
    what=(
        "After a backward pass, compares the root-mean-square gradient of the earliest recurrent layer's "
        "hidden-to-hidden weights with that of the last layer's weights (both act on bounded hidden states) "
        "and reports a ratio below `vanishing_ratio` (1e-3)."
    ),
    why=(
        "Backpropagation multiplies the Jacobians of all layers on the way down; saturating activations, "
        "deep stacks without residual connections or normalization, and poor initialization each shrink "
        "the signal. The early layers then hardly learn, and the network acts like a shallow model on "
        "top of random features."
    ),
    symptoms=(
        "Loss plateaus; the first layers' weights barely change during training; adding layers makes "
        "results worse instead of better."
    ),
    fix=(
        "Add residual connections and normalization (LayerNorm) between stacked recurrent layers, prefer "
        "non-saturating activations in feed-forward parts, or use fewer layers."
    ),
    before=snippet(
        """
        self.rnns = nn.ModuleList(nn.LSTM(128, 128, batch_first=True) for _ in range(6))

        def forward(self, x):
            for rnn in self.rnns:
                x, _ = rnn(x)
            return x
        """
    ),
    after=snippet(
        """
        self.rnns = nn.ModuleList(nn.LSTM(128, 128, batch_first=True) for _ in range(6))
        self.norms = nn.ModuleList(nn.LayerNorm(128) for _ in range(6))

        def forward(self, x):
            for rnn, norm in zip(self.rnns, self.norms):
                out, _ = rnn(norm(x))
                x = x + out                        # residual path for the gradient
            return x
        """
    ),
)


@judges(RULE, GradientStats)
def vanishing_layers(stats: GradientStats, options: Mapping[str, Any]) -> list[Finding]:
    """RMS gradient of the earliest recurrent layer's hidden-to-hidden weights below ``vanishing_ratio``
    times that of the last layer's weights (both act on bounded hidden states)."""
    ratio_threshold = float(options["vanishing_ratio"])
    first, last = stats.earliest_recurrent, stats.last_layer
    if first is None or last is None or first == last:
        return []
    g_first, g_last = stats.rms.get(first), stats.rms.get(last)
    if not g_first or not g_last or not math.isfinite(g_first) or not math.isfinite(g_last) or g_last == 0:
        return []
    ratio = g_first / g_last
    if ratio >= ratio_threshold:
        return []
    evidence = {"earliest": first, "earliest_rms": g_first, "last": last, "last_rms": g_last, "ratio": ratio}
    return [RULE.finding(evidence)]

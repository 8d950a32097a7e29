"""RD207: a sample's output depends on other samples in the batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import remedy
from rnndoctor.measurements.model import ProbeStats
from rnndoctor.rules.model.rd202_swapped_axes import axes_fixed, mixing_evidence

RULE = Rule(
    code="RD207",
    checks=("probes",),
    message=(
        "The output for sample {worst_sample} receives {gradient_share_on_other_samples:.1%} of its input gradient "
        "from {others} other sample(s) in the batch (in eval mode, so not batch norm): samples are mixed. "
        "Typical causes are h_n.view(batch, -1) on a multi-layer or bidirectional state, a reshape used where "
        "a permute was meant, or reductions over the batch axis. Predictions then depend on which samples "
        "share a batch."
    ),
    remedy=(
        "Select per-sample states explicitly instead of reshaping:\n\n```python\n_, $state_h = $rnn(x)"
        "   # h_n: $state_shape\n"
        "last = $last   # the top layer's final state, one row per sample: (batch, $last_size)\n```"
    ),
    title="a sample's output depends on other samples in the batch",
    severity=Severity.ERROR,
    what=(
        "In eval mode (so batch norm's intended coupling is off), backpropagates one sample's output (a "
        "random projection of it) to the inputs, or to the first embedding's output for token ids, for a few "
        "samples, and reports when any share of the input gradient lands on other samples."
    ),
    why=(
        "Samples in a batch must be processed independently; mixing lets each prediction draw on other "
        "samples, which are not there when the model is used on a single input. Common causes are a "
        "view() or reshape() used to reorder axes (it reinterprets memory instead of transposing), "
        "swapped batch and time axes, or a normalization computed across the batch axis."
    ),
    symptoms=(
        "Training loss looks reasonable, but predictions change with batch composition, shuffling or "
        "batch size, and evaluation one sample at a time is much worse."
    ),
    fix=(
        "Find the operation that mixes the batch axis: use permute() or transpose() instead of view() to "
        "reorder axes, and keep batch_first consistent with the data."
    ),
    before=snippet(
        """
        out, _ = self.rnn(x)                           # (batch, time, hidden)
        out = out.view(out.size(1), out.size(0), -1)   # meant as (time, batch, hidden)
        logits = self.head(out[-1])
        """
    ),
    after=snippet(
        """
        out, _ = self.rnn(x)                           # (batch, time, hidden)
        out = out.transpose(0, 1)                      # a real axis swap: (time, batch, hidden)
        logits = self.head(out[-1])
        """
    ),
)


@judges(RULE, ProbeStats)
def mixing(stats: ProbeStats, options: Mapping[str, Any]) -> list[Finding]:
    """One sample's output receives more than ``mixing_tolerance`` of its input gradient from other
    samples' inputs (and not in the pattern of swapped axes, which is RD202's)."""
    tolerance = float(options["mixing_tolerance"])
    leaking = stats.leaking(tolerance)
    if not leaking or stats.swapped(tolerance):
        return []
    worst = max(leaking, key=lambda p: p.leak)
    return [RULE.finding(mixing_evidence(stats, tolerance), {"others": worst.samples_touched - 1})]


remedy(RULE)(axes_fixed)

"""RD306: targets at padded positions that the loss does not ignore."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.loss import LossMeasurement

RULE = Rule(
    code="RD306",
    options=(
        Option(
            "max_padded_scored_share",
            0.01,
            "RD306: share of padded time steps whose targets the loss may score",
            meaning="Share of padded time steps whose targets the loss may still score.",
            guards=("RD306",),
        ),
    ),
    checks=("loss",),
    message=(
        "{padded_scored} of {padded_positions} padded time steps have real targets that {loss} ({ignore}) scores. "
        "The model is trained to predict padding, which inflates accuracy and pulls the hidden state toward "
        "the padding pattern."
    ),
    remedy=(
        "Mark padded targets with the loss's ignore_index (or mask the per-step loss):\n\n```python\n"
        "mask = torch.arange(T)[None, :] >= lengths[:, None]\ntargets[mask] = -100\n"
        "loss_fn = nn.CrossEntropyLoss(ignore_index=-100)\n```"
    ),
    title="padding positions counted by the loss",
    severity=Severity.WARNING,
    what=(
        "For per-timestep targets in a batch with known lengths (explicit lengths or padding tokens), counts "
        "the padded positions whose targets the loss scores, i.e. that are not equal to its ignore_index."
    ),
    why=(
        "Padded positions become training targets: the model learns to emit the padding label (often 0, "
        "also a real class) at the ends of sequences, and the averaged loss is diluted by easy fake "
        "positions. The more padding a batch holds, the more of the training signal is spent on it."
    ),
    symptoms=(
        "The model over-predicts the padding class or class 0; per-token accuracy looks high because "
        "padding is easy to predict, while accuracy on real tokens stalls."
    ),
    fix=(
        "Fill padded target positions with the loss's ignore_index (-100 by default for "
        "CrossEntropyLoss), or compute the loss with reduction='none' and average it over the valid "
        "positions only."
    ),
    before=snippet(
        """
        y = pad_sequence(tag_seqs, batch_first=True, padding_value=0)      # 0 is also a real tag
        loss = nn.CrossEntropyLoss()(logits.transpose(1, 2), y)
        """
    ),
    after=snippet(
        """
        y = pad_sequence(tag_seqs, batch_first=True, padding_value=-100)
        loss = nn.CrossEntropyLoss(ignore_index=-100)(logits.transpose(1, 2), y)
        """
    ),
)


@judges(RULE, LossMeasurement)
def padding_scored(m: LossMeasurement, options: Mapping[str, Any]) -> list[Finding]:
    """More than ``max_padded_scored_share`` of the padded positions have targets the loss scores."""
    max_share = float(options["max_padded_scored_share"])
    if m.padded_positions == 0 or m.padded_scored == 0:
        return []
    if m.padded_scored / max(m.padded_positions, 1) <= max_share:
        return []
    evidence = {
        "padded_positions": m.padded_positions,
        "padded_scored": m.padded_scored,
        "ignore_index": m.ignore_index,
        "loss": m.loss,
    }
    ignore = f"ignore_index={m.ignore_index}" if m.ignore_index is not None else "no ignore_index"
    return [RULE.finding(evidence, {"ignore": ignore})]

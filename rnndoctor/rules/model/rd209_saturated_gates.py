"""RD209: saturated tanh/sigmoid units or LSTM/GRU gates at initialization."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.gradients import SaturationStats

RULE = Rule(
    code="RD209",
    options=(
        Option(
            "max_saturated_share",
            0.5,
            "RD209: share of saturated units in a layer or gate at initialization",
            meaning="Share of units of a layer or gate that are saturated (see `saturated_output`).",
            guards=("RD209",),
        ),
    ),
    checks=("saturation",),
    message=(
        "At initialization {share:.0%} of the units in {worst} are saturated (sigmoid below 0.01 or above 0.99, "
        "tanh beyond ±0.99); {layers} layer/gate(s) exceed {max_share:.0%}. Saturated units pass almost no "
        "gradient, so those parts of the network start out unable to learn."
    ),
    remedy=(
        "Scale the inputs to unit variance and keep the default initialization; for very large inputs add a "
        "normalization layer before the RNN:\n\n```python\nx = (x - mean) / std\n```"
    ),
    title="saturated activations or gates",
    severity=Severity.WARNING,
    what=(
        "Captures what each recurrent layer receives on a few real samples, recomputes every gate pre-"
        "activation from the layer's weights (fused LSTM/GRU kernels do not expose them), and measures the "
        "share of sigmoid gates below 0.01 or above 0.99 and of tanh units beyond ±0.99; nn.Tanh and "
        "nn.Sigmoid modules are read with hooks."
    ),
    why=(
        "The derivative of tanh is 1 - tanh^2 and that of a sigmoid is s(1 - s): both are close to zero "
        "in saturation. A saturated unit passes almost no gradient, so the weights feeding it stop "
        "learning and a gate stuck open or shut cannot adapt. Unscaled inputs, large initial weights and "
        "too high a learning rate are the usual causes."
    ),
    symptoms=("Loss plateaus early; gradient norms of the recurrent layers are tiny; hidden states sit at +1 and -1."),
    fix=(
        "Normalize the inputs, shrink the weight initialization or the learning rate, and consider a "
        "LayerNorm on the layer's input."
    ),
    before=snippet(
        """
        x = torch.tensor(raw_features, dtype=torch.float32)    # values in the thousands
        out, _ = lstm(x)                                        # gates pinned at 0 or 1
        """
    ),
    after=snippet(
        """
        x = torch.tensor(raw_features, dtype=torch.float32)
        x = (x - train_mean) / train_std                        # statistics of the training split
        out, _ = lstm(x)
        """
    ),
    explains=("RD402", "RD403", "RD503", "RD505", "RD506"),
)


@judges(RULE, SaturationStats)
def saturation(stats: SaturationStats, options: Mapping[str, Any]) -> list[Finding]:
    """The share of saturated units in some layer/gate above ``max_saturated_share``."""
    max_share = float(options["max_saturated_share"])
    saturated = {k: v for k, v in stats.shares.items() if v > max_share}
    if not saturated:
        return []
    worst, share = max(saturated.items(), key=lambda kv: kv[1])
    evidence = {"worst": worst, "share": share, "saturated": saturated, "samples": stats.samples}
    return [RULE.finding(evidence, {"layers": len(saturated), "max_share": max_share})]

"""RD201: the last axis of what a recurrent layer receives differs from its input_size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.measurements.model import FedLayer, RnnLayer

RULE = Rule(
    code="RD201",
    crashes=(
        CrashSignature(
            r"input\.size\(-1\) must be equal to input_size|input_size.*expected \d+, got \d+", ("forward",)
        ),
    ),
    checks=("structure",),
    message=(
        "'{layer}' ({kind}) was built with input_size={input_size} but receives {received_features} features per "
        "step (input shape {received_shape}). The forward pass raises before any training."
    ),
    remedy=(
        "Build the layer from the data's feature size:\n\n```python\n$rnn = nn.$Rnn(input_size="
        "{received_features}, hidden_size={hidden_size}$rnn_options)\n# or derive it: input_size=x.shape[-1]\n```"
    ),
    variants={
        "crash": Wording(
            message=(
                "The {stage_words} raised an error: the inputs' feature size does not match the RNN's input_size. "
                "{error}"
            ),
            remedy=(
                "Make the RNN's input_size equal the last axis of the inputs (`nn.LSTM(input_size=x.shape[-1], ...)`)."
            ),
        ),
    },
    title="input feature size differs from the RNN's input_size",
    severity=Severity.ERROR,
    what=(
        "Records, with a forward pre-hook on every recurrent layer, the feature size of what the layer "
        "actually receives and compares it with its input_size; the pass stops at the first mismatch, so the "
        'finding carries both numbers. A crash with "input.size(-1) must be equal to input_size" elsewhere is'
        " reported under this code too, quoting the error."
    ),
    why=(
        "A recurrent layer multiplies each step's input by a weight matrix with input_size columns, so "
        "any other feature count cannot be computed. It usually means the features changed (a column "
        "added, a one-hot encoding widened) without updating the constructor, or a univariate series was "
        "passed as (batch, time) without a trailing feature axis of size 1."
    ),
    symptoms=(
        '"RuntimeError: input.size(-1) must be equal to input_size. Expected 8, got 50" on the first '
        "batch (for a (batch, time) tensor the second number is the sequence length)."
    ),
    fix=(
        "Build the layer with input_size equal to the input's last dimension (derive it from the data), "
        "and add a feature axis to univariate series with x.unsqueeze(-1)."
    ),
    before=snippet(
        """
        rnn = nn.LSTM(input_size=8, hidden_size=64, batch_first=True)
        x = series_batch                          # (batch, time): no feature axis
        out, _ = rnn(x)
        """
    ),
    after=snippet(
        """
        x = series_batch.unsqueeze(-1)            # (batch, time, 1)
        rnn = nn.LSTM(input_size=x.size(-1), hidden_size=64, batch_first=True)
        out, _ = rnn(x)
        """
    ),
    explains=("RD001", "RD503", "RD505"),
)


@judges(RULE, FedLayer)
def input_size(fed: FedLayer, options: Mapping[str, Any]) -> list[Finding]:
    """The last axis of what the RNN received differs from its input_size."""
    layer = fed.layer
    if layer.received_features is None or layer.received_features == layer.input_size:
        return []
    evidence = {
        "layer": layer.name,
        "input_size": layer.input_size,
        "received_features": layer.received_features,
        "received_shape": list(layer.received_shape or ()),
        "hidden_size": layer.hidden_size,
    }
    return [RULE.finding(evidence, layer_words(layer))]


def layer_words(layer: RnnLayer) -> dict[str, str]:
    """How the messages name the layer's type (the fix snippets name the layer itself: `core.snippets`)."""
    return {"kind": layer.kind}

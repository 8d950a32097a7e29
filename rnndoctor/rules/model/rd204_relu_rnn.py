"""RD204: a ReLU vanilla RNN, whose hidden state is unbounded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.measurements.model import RnnLayer
from rnndoctor.rules.model.rd201_input_size_mismatch import layer_words

RULE = Rule(
    code="RD204",
    checks=("structure",),
    message=(
        "'{layer}' is nn.RNN(nonlinearity='relu'). Unlike tanh, ReLU does not bound the hidden state, so any "
        "recurrent gain above 1 compounds over time steps into huge activations and gradients (NaN loss) "
        "unless weights are initialized near identity and gradients clipped.{note}"
    ),
    remedy=(
        "Prefer tanh or a gated cell; if you keep ReLU, start from the identity and clip:\n\n```python\n"
        "for name, p in $rnn_of_model.named_parameters():\n    if name.startswith('weight_hh'):\n"
        "        nn.init.eye_(p)\ntorch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n```"
    ),
    title="ReLU vanilla RNN without safeguards",
    severity=Severity.WARNING,
    what=(
        "Finds nn.RNN layers built with nonlinearity='relu', whose hidden state is unbounded; the spectral "
        "radius of their recurrent weights is given as evidence."
    ),
    why=(
        "ReLU does not saturate, so nothing bounds the hidden state. With a recurrent matrix whose "
        "spectral radius is above one, state and gradients grow geometrically with the number of steps "
        "until they overflow to Inf and NaN. ReLU RNNs train only with identity-like recurrent "
        "initialization, a modest learning rate and gradient clipping."
    ),
    symptoms=(
        "Loss explodes to inf or nan within the first steps or epochs, sooner on longer sequences; "
        "hidden activations reach huge values."
    ),
    fix=(
        "Use tanh, a GRU or an LSTM; if you keep ReLU, initialize the recurrent weights to a scaled "
        "identity with zero recurrent bias and clip the gradient norm at every step."
    ),
    before=snippet(
        """
        rnn = nn.RNN(16, 128, nonlinearity="relu", batch_first=True)
        loss.backward()
        optimizer.step()
        """
    ),
    after=snippet(
        """
        rnn = nn.RNN(16, 128, nonlinearity="relu", batch_first=True)
        with torch.no_grad():
            rnn.weight_hh_l0.copy_(torch.eye(128))
            rnn.bias_hh_l0.zero_()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(rnn.parameters(), max_norm=1.0)
        optimizer.step()
        """
    ),
    explains=("RD401", "RD502"),
)


@judges(RULE, RnnLayer)
def relu_rnn(layer: RnnLayer, options: Mapping[str, Any]) -> list[Finding]:
    """A ReLU vanilla RNN, whose hidden state is unbounded."""
    if layer.kind != "RNN" or layer.nonlinearity != "relu":
        return []
    radius = max(layer.spectral_radius.values(), default=None)
    note = f" The recurrent weights' spectral radius is {radius:.2f}." if radius is not None else ""
    return [RULE.finding({"layer": layer.name, "spectral_radius": radius}, {**layer_words(layer), "note": note})]

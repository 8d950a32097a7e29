"""RD203: a plain nn.RNN run over long sequences."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.model import FedLayer
from rnndoctor.rules.model.rd201_input_size_mismatch import layer_words

RULE = Rule(
    code="RD203",
    options=(
        Option(
            "long_sequence",
            100,
            "RD203: a vanilla nn.RNN on sequences longer than this many steps",
            meaning="A vanilla `nn.RNN` run over more steps than this.",
            guards=("RD203",),
        ),
    ),
    checks=("structure",),
    message=(
        "'{layer}' is a vanilla nn.RNN run over {steps} time steps. Its gradient is a product of {steps} "
        "Jacobians, so it vanishes (or explodes) long before reaching the start of the sequence: the model "
        "can only use the last few steps."
    ),
    remedy=("Use a gated cell:\n\n```python\n$rnn = nn.LSTM($rnn_sizes$rnn_options)   # or nn.GRU\n```"),
    title="vanilla RNN on long sequences",
    severity=Severity.WARNING,
    what=(
        "Finds plain nn.RNN (Elman) layers and the number of time steps they actually receive, and reports "
        "when a sequence is longer than the `long_sequence` threshold (100 steps by default)."
    ),
    why=(
        "The gradient flowing back through a tanh RNN is multiplied at every step by the recurrent "
        "weights and the tanh derivative, so it shrinks or grows geometrically with the number of steps. "
        "Dependencies further back than a few dozen steps receive practically no gradient. LSTM and GRU "
        "carry their state through gated, mostly additive updates that keep a path with gain near one."
    ),
    symptoms=(
        "The model only uses the last few steps of each sequence; tasks that need long memory stay at "
        "chance; the gradient reaching early time steps is tiny (see RD403)."
    ),
    fix=(
        "Replace nn.RNN with nn.GRU or nn.LSTM (same call, but an LSTM's state is a pair (h, c)), or cut "
        "the sequences into shorter pieces."
    ),
    before=snippet(
        """
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        out, h_n = self.rnn(x)                    # x: (batch, 500, features)
        """
    ),
    after=snippet(
        """
        self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)
        out, h_n = self.rnn(x)
        """
    ),
    explains=("RD403", "RD402"),
)


@judges(RULE, FedLayer)
def vanilla_long(fed: FedLayer, options: Mapping[str, Any]) -> list[Finding]:
    """A plain nn.RNN over more than ``long_sequence`` steps."""
    layer, long_sequence = fed.layer, int(options["long_sequence"])
    if layer.kind != "RNN" or layer.steps is None or layer.steps <= long_sequence:
        return []
    words = {**layer_words(layer), "input_size": layer.input_size, "hidden_size": layer.hidden_size}
    return [RULE.finding({"layer": layer.name, "steps": layer.steps, "threshold": long_sequence}, words)]

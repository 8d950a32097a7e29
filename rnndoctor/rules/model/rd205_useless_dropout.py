"""RD205: dropout on a single-layer RNN, where it is never applied."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.measurements.model import RnnLayer
from rnndoctor.rules.model.rd201_input_size_mismatch import layer_words

RULE = Rule(
    code="RD205",
    checks=("structure",),
    message=(
        "'{layer}' has dropout={dropout} and num_layers=1. The RNN's dropout acts only between stacked "
        "layers, so here it does nothing and the model is not regularized as intended."
    ),
    remedy=(
        "Apply dropout to the RNN's output yourself (or stack layers):\n\n```python\n"
        "self.drop = nn.Dropout({dropout})\nout, _ = $rnn(x)\nout = self.drop(out)\n```"
    ),
    title="RNN dropout has no effect with num_layers=1",
    severity=Severity.INFO,
    what=(
        "Reads the dropout and num_layers settings of every nn.RNN, nn.LSTM and nn.GRU and reports "
        "layers that set dropout above zero with a single layer."
    ),
    why=(
        "The built-in dropout of PyTorch's recurrent layers is applied only between stacked layers, to "
        "the output of every layer except the last. With one layer there is nowhere to apply it, so the "
        "model trains with no regularization from it at all; PyTorch only warns once when the layer is "
        "built."
    ),
    symptoms=(
        "A UserWarning at construction saying dropout is added after all but the last recurrent layer; "
        "the model overfits exactly as much as without the setting."
    ),
    fix=("Apply nn.Dropout to the RNN's output before the head, or stack more layers if that is what you want."),
    before=snippet(
        """
        self.rnn = nn.LSTM(32, 128, num_layers=1, dropout=0.3, batch_first=True)
        self.head = nn.Linear(128, num_classes)
        """
    ),
    after=snippet(
        """
        self.rnn = nn.LSTM(32, 128, num_layers=1, batch_first=True)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(128, num_classes)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(self.drop(out[:, -1]))
        """
    ),
)


@judges(RULE, RnnLayer)
def useless_dropout(layer: RnnLayer, options: Mapping[str, Any]) -> list[Finding]:
    """Dropout > 0 on a single-layer RNN, where it is never applied."""
    if layer.dropout <= 0 or layer.num_layers > 1:
        return []
    evidence = {"layer": layer.name, "dropout": layer.dropout, "num_layers": layer.num_layers}
    return [RULE.finding(evidence, layer_words(layer))]

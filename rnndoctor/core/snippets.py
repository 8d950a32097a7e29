"""Fix snippets in the user's own names: the recurrent layer their model holds, of the type it is.

A rule's fix template writes the recurrent layer as ``$rnn`` (``self.encoder``), its type as ``$Rnn``
(``GRU``) and what calling it returns as ``$state`` (``h_n`` for a GRU or an RNN, ``(h_n, c_n)`` for an LSTM);
``$last`` is the final state of the top layer in both directions of a bidirectional layer. `personalize`
fills them from the model's layers once a judge has made its finding, so the snippet pasted into the user's
code runs there: ``_, (h_n, _) = self.lstm(packed)`` raises on a GRU called ``encoder``, and ``h_n[-1]`` is
half the answer for a bidirectional one. Without a model (a training log) the names are those of a plain
``self.rnn = nn.LSTM(...)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from string import Template
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnndoctor.core.findings import Finding


@dataclass(frozen=True)
class RecurrentLayer:
    """A fused recurrent layer as the user's code refers to it."""

    path: str
    """Its name in ``model.named_modules()`` (``encoder``, ``body.rnn``, ``layers.0``); empty for the model."""
    kind: str = "LSTM"
    bidirectional: bool = False
    num_layers: int = 1
    batch_first: bool = True
    input_size: int | None = None
    hidden_size: int | None = None


GENERIC = RecurrentLayer("rnn")
"""What a snippet names when there is no model to read: ``self.rnn = nn.LSTM(...)``."""

LAYER_KEYS = ("layer", "attr", "module")
"""Evidence keys that name the layer a finding is about (its snippet then names that layer)."""


def attribute(path: str) -> str:
    """The Python expression for a module path under ``self``: ``body.rnn`` -> ``body.rnn``, ``layers.0`` ->
    ``layers[0]`` (a ModuleList or Sequential entry)."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", path).lstrip(".")


def fields(layer: RecurrentLayer) -> dict[str, str]:
    """The values of the ``$`` placeholders for ``layer``."""
    lstm = layer.kind == "LSTM"
    directions = 2 if layer.bidirectional else 1
    inside = f"self.{attribute(layer.path)}" if layer.path else "self"
    outside = f"model.{attribute(layer.path)}" if layer.path else "model"
    sizes = [str(layer.input_size or "input_size"), str(layer.hidden_size or "hidden_size")]
    shape = f"({'num_layers * 2' if layer.bidirectional else 'num_layers'}, batch, hidden_size)"
    hidden = layer.hidden_size or "hidden_size"
    gates = {"LSTM": (4, "the forget gate"), "GRU": (3, "the update gate: keep the state")}.get(layer.kind)
    bidirectional = ", bidirectional=True" if layer.bidirectional else ""
    extras = (f", num_layers={layer.num_layers}" if layer.num_layers != 1 else "") + bidirectional
    return {
        "rnn": inside,
        "rnn_of_model": outside,
        "Rnn": layer.kind,
        "rnn_sizes": ", ".join(sizes),
        "rnn_extras": extras,
        "rnn_bidirectional": bidirectional,
        "rnn_options": extras + (", batch_first=True" if layer.batch_first else ""),
        "stacked": str(max(2, layer.num_layers)),
        "state": "(h_n, c_n)" if lstm else "h_n",
        "state_h": "(h_n, _)" if lstm else "h_n",
        "state_shape": shape,
        "last": "torch.cat([h_n[-2], h_n[-1]], dim=-1)" if layer.bidirectional else "h_n[-1]",
        "last_size": f"{directions} * {hidden}" if layer.bidirectional else str(hidden),
        "batch_first": str(layer.batch_first),
        "detached": "tuple(h.detach() for h in self.hidden)" if lstm else "self.hidden.detach()",
        "gate_count": str(gates[0]) if gates else "1",
        "gate": gates[1] if gates else "no gate: nn.RNN has none, use nn.GRU or nn.LSTM",
    }


def chosen(finding: Finding, layers: Sequence[RecurrentLayer]) -> RecurrentLayer:
    """The layer a finding's snippet names: the one its evidence names, else the model's first, else the
    generic one."""
    named = {str(finding.evidence.get(key)) for key in LAYER_KEYS if finding.evidence.get(key) is not None}
    for layer in layers:
        if layer.path in named or (not layer.path and "<model>" in named):
            return layer
    return layers[0] if layers else GENERIC


def personalize(findings: Sequence[Finding], layers: Sequence[RecurrentLayer] = ()) -> None:
    """Fill the ``$`` placeholders of the findings' fixes with the model's layer (or the generic one)."""
    for finding in findings:
        if "$" in finding.fix:
            finding.fix = Template(finding.fix).safe_substitute(fields(chosen(finding, layers)))

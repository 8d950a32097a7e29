"""RD211: a bidirectional RNN read out at the last step only (its backward half has seen one step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.model import BidirectionalReadout
from rnndoctor.runtime.patches import hooked
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD211",
    options=(
        Option(
            "last_step_share",
            0.99,
            "RD211: share of the backward direction's gradient on the last step",
            meaning="Share of a bidirectional layer's backward-direction gradient sitting on the last step.",
            guards=("RD211",),
        ),
    ),
    checks=("probes",),
    message=(
        "The model reads '{layer}' (bidirectional) only at each sequence's last step ({last_step_share:.0%} of "
        "the gradient sits there). At that step the backward direction has seen a single input, so half of "
        "the read-out ignores the sequence."
    ),
    remedy=(
        "Read the backward direction where it ends (the first step), e.g. from h_n:\n\n```python\n"
        "_, $state_h = $rnn(x)\nfeatures = $last   # both directions' final states: (batch, $last_size)\n```"
    ),
    title="bidirectional RNN read out at the last step only",
    severity=Severity.WARNING,
    what=(
        "For every bidirectional recurrent layer, backpropagates the model's output to the layer's output "
        "sequence and reports when the backward direction's half receives its gradient only at each "
        "sequence's last step, i.e. the read-out takes out[:, -1]."
    ),
    why=(
        "At the last position the forward direction has read the whole sequence, but the backward "
        "direction has read only the last element; its summary of the sequence sits at position 0. Half "
        "of the features given to the head are therefore close to useless."
    ),
    symptoms=(
        "The bidirectional model is no better, or worse, than a unidirectional one; doubling the width gains nothing."
    ),
    fix=(
        "Concatenate both directions' final states from h_n (h_n[-2] and h_n[-1] for the top layer), and "
        "with padded batches use a packed sequence so these are the states at each real end."
    ),
    before=snippet(
        """
        self.rnn = nn.LSTM(32, 64, batch_first=True, bidirectional=True)
        out, _ = self.rnn(x)
        return self.head(out[:, -1])            # backward half has seen one step
        """
    ),
    after=snippet(
        """
        self.rnn = nn.LSTM(32, 64, batch_first=True, bidirectional=True)
        _, (h_n, _) = self.rnn(x)
        summary = torch.cat([h_n[-2], h_n[-1]], dim=1)   # forward and backward final states
        return self.head(summary)
        """
    ),
    explains=("RD210", "RD403"),
)


@judges(RULE, BidirectionalReadout)
def bidirectional_readout(readout: BidirectionalReadout, options: Mapping[str, Any]) -> list[Finding]:
    """The backward direction of a bidirectional RNN is read at the last step only: at least
    ``last_step_share`` of its output gradient sits there."""
    if readout.backward_mass <= 0 or readout.last_step_share < float(options["last_step_share"]):
        return []
    return [RULE.finding({"layer": readout.layer, "last_step_share": readout.last_step_share})]


@remedy(RULE)
def backward_summary_read(session: Session, finding: Finding) -> list[Trial] | str:
    """The bidirectional layer's last step given the backward direction's final state, so `out[:, -1]` reads what
    `torch.cat([h_n[-2], h_n[-1]], -1)` would."""
    modules = dict(session.model.named_modules())
    layer = modules.get(str(finding.evidence.get("layer", "")))
    if not isinstance(layer, torch.nn.RNNBase) or not layer.bidirectional:
        return "the bidirectional layer could not be found"
    hidden = layer.proj_size or layer.hidden_size
    time_axis = 1 if layer.batch_first else 0

    # The backward direction's summary of the whole sequence is its output at the first step; putting it at
    # the last step makes `out[:, -1]` read what `torch.cat([h_n[-2], h_n[-1]], dim=-1)` would.
    def rewire(module: torch.nn.Module, args: Any, output: Any) -> Any:
        out = output[0] if isinstance(output, tuple) else output
        if not isinstance(out, torch.Tensor) or out.dim() != 3:
            return None
        fixed = out.clone()
        last = fixed.narrow(time_axis, out.shape[time_axis] - 1, 1)
        last[..., hidden:] = out.narrow(time_axis, 0, 1)[..., hidden:]
        return (fixed, *output[1:]) if isinstance(output, tuple) else fixed

    patch = hooked(lambda session: [layer.register_forward_hook(rewire)])
    return [Trial("the last step's backward half replaced by the backward direction's final state", [patch])]

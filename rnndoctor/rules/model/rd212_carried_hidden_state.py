"""RD212: a hidden state carried across batches without detach keeps the previous batch's graph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.model import CarriedState
from rnndoctor.runtime.patches import state_detached
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD212",
    crashes=(CrashSignature(r"backward through the graph a second time", ("backward", "train_step")),),
    checks=("structure",),
    message=(
        "The model stores its hidden state in {where} and feeds it into the next batch without detaching it: "
        "the second backward pass raised '{error}'. Training crashes on the second batch, or, with "
        "retain_graph=True, backpropagates through every earlier batch, ever slower and with growing memory."
    ),
    remedy=(
        "Detach the carried state at the start of each batch (truncated backpropagation through time):\n\n"
        "```python\nif self.hidden is not None:\n    self.hidden = $detached\n"
        "out, self.hidden = $rnn(x, self.hidden)\n```"
    ),
    variants={
        "crash": Wording(
            message=(
                "The {stage_words} raised an error: a hidden state kept from an earlier batch still points into "
                "that batch's freed graph. {error}"
            ),
            remedy=("Detach the carried state at the start of each batch: `self.hidden = $detached`."),
        ),
    },
    title="hidden state carried across batches without detach",
    severity=Severity.ERROR,
    what=(
        "When a module keeps a tensor that is part of an autograd graph as an attribute after the forward "
        "pass (a stored hidden state), runs two training steps on the same batch and reports when the second "
        "backward fails because the stored state still points into the first batch's freed graph."
    ),
    why=(
        "Carrying the state from batch to batch (truncated backpropagation through time) without "
        "detaching it links each batch's graph to all earlier ones. Backward then either raises, because "
        "the earlier graph was already freed, or, with retain_graph=True, runs through the whole history "
        "so that time and memory grow with every step."
    ),
    symptoms=(
        '"RuntimeError: Trying to backward through the graph a second time" on the second batch; or, '
        "with retain_graph=True, steps that get slower and memory that climbs until CUDA runs out of "
        "memory."
    ),
    fix=(
        "Detach the hidden state at each batch boundary (both h and c for an LSTM) and do not use "
        "retain_graph=True as a workaround."
    ),
    before=snippet(
        """
        hidden = None
        for x, y in loader:
            out, hidden = model(x, hidden)
            loss = loss_fn(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        """
    ),
    after=snippet(
        """
        hidden = None
        for x, y in loader:
            if hidden is not None:
                hidden = tuple(h.detach() for h in hidden)   # LSTM state (h, c)
            out, hidden = model(x, hidden)
            loss = loss_fn(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        """
    ),
    explains=("RD401", "RD404"),
)


@judges(RULE, CarriedState)
def carried_state(state: CarriedState, options: Mapping[str, Any]) -> list[Finding]:
    """A hidden state stored on the module keeps the previous batch's freed graph alive, so the second
    backward pass fails."""
    if not state.attributes or state.error is None:
        return []
    return [
        RULE.finding({"attributes": state.attributes, "error": state.error}, {"where": ", ".join(state.attributes)})
    ]


@remedy(RULE)
def state_detached_between_batches(session: Session, finding: Finding) -> list[Trial] | str:
    """Hidden state held by the model or passed in detached before every forward."""
    return [Trial("hidden state detached between batches", [state_detached])]

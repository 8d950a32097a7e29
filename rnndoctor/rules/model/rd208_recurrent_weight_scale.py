"""RD208: recurrent weights whose spectral radius makes signals explode or vanish step after step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.model import RnnLayer
from rnndoctor.runtime.recurrence import recurrent_modules
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD208",
    options=(
        Option(
            "max_spectral_radius",
            1.5,
            "RD208: recurrent weights whose spectral radius exceeds this explode",
            meaning="Recurrent weight blocks whose spectral radius exceeds this make signals grow step after step.",
            guards=("RD208",),
        ),
        Option(
            "min_spectral_radius",
            0.05,
            "RD208: ...or fall below this forget everything at once",
            meaning="...or below this, forget everything between steps.",
            guards=("RD208",),
        ),
    ),
    checks=("structure",),
    message=(
        "The recurrent weights of '{layer}' have spectral radius {spectral_radius:.3g} (block {block}); healthy "
        "initializations sit near 0.5-1. At this scale {effect}."
    ),
    remedy=(
        "Use PyTorch's default initialization, or an orthogonal one for the recurrent weights:\n\n```python\n"
        "for name, p in $rnn_of_model.named_parameters():\n    if 'weight_hh' in name:\n"
        "        nn.init.orthogonal_(p)\n```"
    ),
    title="recurrent weight scale far from stable",
    severity=Severity.WARNING,
    what=(
        "Computes the spectral radius (largest absolute eigenvalue) of each recurrent weight matrix, per "
        "gate block for LSTM and GRU, and reports values far above or far below 1."
    ),
    why=(
        "Every step multiplies the hidden state, and on the way back the gradient, by the recurrent "
        "weights. A radius well above one amplifies both geometrically and drives the gates into "
        "saturation; a radius well below one makes them fade, so the network forgets within a few steps. "
        "Custom initializations such as normal_(std=1) on a large hidden size, or very small values, "
        "land far from one."
    ),
    symptoms=(
        "Above one: loss spikes, saturated gates, nan. Below one: the model only uses the last few steps "
        "and the gradient through time vanishes."
    ),
    fix=(
        "Initialize each recurrent gate block orthogonally (nn.init.orthogonal_), the input weights with "
        "a Xavier scheme and the biases to zero, instead of a fixed-std normal."
    ),
    before=snippet(
        """
        for name, p in lstm.named_parameters():
            nn.init.normal_(p, std=1.0)               # spectral radius ~ sqrt(hidden_size)
        """
    ),
    after=snippet(
        """
        for name, p in lstm.named_parameters():
            if "weight_hh" in name:
                for block in p.data.chunk(4, dim=0):  # the four LSTM gates
                    nn.init.orthogonal_(block)
            elif "weight_ih" in name:
                nn.init.xavier_uniform_(p)
            else:
                nn.init.zeros_(p)
        """
    ),
    explains=("RD209", "RD401", "RD402", "RD403"),
)


@judges(RULE, RnnLayer)
def recurrent_scale(layer: RnnLayer, options: Mapping[str, Any]) -> list[Finding]:
    """The largest recurrent spectral radius above ``max_spectral_radius`` or all below
    ``min_spectral_radius``."""
    max_radius, min_radius = float(options["max_spectral_radius"]), float(options["min_spectral_radius"])
    if not layer.spectral_radius:
        return []
    block, radius = max(layer.spectral_radius.items(), key=lambda kv: kv[1])
    if min_radius <= radius <= max_radius:
        return []
    if radius > max_radius:
        effect = (
            f"a signal carried through the recurrence grows like {radius:.2f}^t: after 20 steps by "
            f"{radius**20:.3g}x, so activations saturate and gradients explode"
        )
    else:
        effect = "the hidden state forgets everything between steps, so nothing can be carried through time"
    evidence = {"layer": layer.name, "block": block, "spectral_radius": radius, "all_blocks": layer.spectral_radius}
    return [RULE.finding(evidence, {"effect": effect})]


@remedy(RULE)
def recurrent_weights_reinitialized(session: Session, finding: Finding) -> list[Trial] | str:
    """Recurrent weights re-initialized orthogonal."""
    layers = [m for _, m in recurrent_modules(session.model) if isinstance(m, torch.nn.RNNBase)]
    if not layers:
        return "no fused recurrent layer to re-initialize"

    @contextlib.contextmanager
    def patch(session: Session) -> Iterator[None]:
        with torch.no_grad():
            for layer in layers:
                for name, weight in layer.named_parameters():
                    if name.startswith("weight_hh"):
                        for start in range(0, weight.shape[0], layer.hidden_size):
                            torch.nn.init.orthogonal_(weight[start : start + layer.hidden_size])
        yield  # the weights are put back with the rest of the model's state after the trial

    return [Trial("recurrent weights re-initialized orthogonal (PyTorch's defaults replaced)", [patch])]

"""RD202: time and batch axes swapped (the recurrent layer's batch_first does not match the batches)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.model import LayerAxes, ProbeStats
from rnndoctor.rules.model.rd201_input_size_mismatch import layer_words
from rnndoctor.runtime.patches import model_input_edited, module_flags
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD202",
    checks=(
        "structure",
        "probes",
    ),
    message=(
        "'{layer}' has batch_first={batch_first}, so it reads axis {read_axis} of its {input_shape} input as the "
        "batch, but the batch of {batch_size} samples is on axis {axis_holding_batch}. It runs over the "
        "{batch_size} samples as if they were time steps and mixes them into one sequence; each 'sample' it "
        "sees is one time step ({read_size} of them)."
    ),
    remedy=(
        "Declare the layout the data has:\n\n```python\n$rnn = nn.$Rnn({input_size}, {hidden_size}$rnn_extras, "
        "{flag})\n```\n\nor transpose the inputs with `x.transpose(0, 1)` (and read the outputs with the "
        "matching layout)."
    ),
    variants={
        "probe": Wording(
            message=(
                "The output for sample {worst_sample} depends on time step {worst_sample} of all "
                "{samples_touched} samples and on nothing else: the model treats the batch axis as time and the "
                "time axis as the batch (a batch_first mismatch). Each prediction mixes the whole batch at one "
                "time step."
            ),
            remedy=(
                "Make the recurrent layer's layout match the data:\n\n```python\n"
                "$rnn = nn.$Rnn($rnn_sizes$rnn_extras, batch_first=True)"
                "   # data is (batch, time, features)\n```"
            ),
        )
    },
    title="time and batch axes swapped (batch_first mismatch)",
    severity=Severity.ERROR,
    what=(
        "Records the shape each recurrent layer receives and compares the axis its batch_first flag reads as "
        "the batch with the batch size of the targets; it reports when the batch sits on the other axis, i.e."
        " the layer would run over the samples as if they were time steps."
    ),
    why=(
        "A (batch, time, features) tensor given to a layer built with batch_first=False is a valid "
        "shape, so nothing raises. The recurrence then runs across the samples of the batch while real "
        "time steps are treated as independent sequences: information leaks between samples and no "
        "sample's own history is ever modelled."
    ),
    symptoms=(
        "No error at all; the loss barely falls, validation stays near chance, and results change with "
        "batch size or shuffling."
    ),
    fix=(
        "Set batch_first=True when the data is (batch, time, features), or transpose the input to (time, "
        "batch, features); then read the output along the matching axis."
    ),
    before=snippet(
        """
        rnn = nn.LSTM(input_size=16, hidden_size=64)       # expects (time, batch, features)
        out, _ = rnn(batch_x)                              # batch_x: (batch, time, features)
        last = out[:, -1]
        """
    ),
    after=snippet(
        """
        rnn = nn.LSTM(input_size=16, hidden_size=64, batch_first=True)
        out, _ = rnn(batch_x)                              # out: (batch, time, hidden)
        last = out[:, -1]
        """
    ),
    explains=("RD207", "RD304", "RD305", "RD403", "RD503", "RD506"),
)


@judges(RULE, LayerAxes)
def swapped_axes(axes: LayerAxes, options: Mapping[str, Any]) -> list[Finding]:
    """The axis the RNN treats as batch does not hold the batch, and the other axis does."""
    layer, batch_size = axes.layer, axes.batch_size
    shape = layer.received_shape
    if batch_size is None or shape is None or layer.packed or len(shape) != 3:
        return []
    batch_axis, time_axis = (0, 1) if layer.batch_first else (1, 0)
    if shape[batch_axis] == batch_size or shape[time_axis] != batch_size:
        return []
    evidence = {
        "layer": layer.name,
        "batch_first": layer.batch_first,
        "input_shape": list(shape),
        "batch_size": batch_size,
        "axis_holding_batch": time_axis,
    }
    words = {
        **layer_words(layer),
        "read_axis": batch_axis,
        "read_size": shape[batch_axis],
        "input_size": layer.input_size,
        "hidden_size": layer.hidden_size,
        "flag": "batch_first=True" if not layer.batch_first else "batch_first=False",
    }
    return [RULE.finding(evidence, words, confidence=0.8)]


@judges(RULE, ProbeStats)
def swapped_in_probes(stats: ProbeStats, options: Mapping[str, Any]) -> list[Finding]:
    """Every sample's output takes its input gradient from the time step numbered like the sample: the
    batch is read as time (the probes' view of the same mistake)."""
    tolerance = float(options["mixing_tolerance"])
    if not stats.swapped(tolerance):
        return []
    return [RULE.finding(mixing_evidence(stats, tolerance), variant="probe", confidence=0.95)]


def mixing_evidence(stats: ProbeStats, tolerance: float) -> dict[str, Any]:
    """The evidence of a probe that found samples mixing: the worst sample and where its gradient went."""
    worst = max(stats.leaking(tolerance), key=lambda p: p.leak)
    return {
        "probed_samples": [p.sample for p in stats.probes],
        "worst_sample": worst.sample,
        "gradient_share_on_other_samples": worst.leak,
        "samples_touched": worst.samples_touched,
        "batch_size": stats.batch_size,
        "steps": stats.steps,
    }


_AXIS_FLAGGED = (torch.nn.RNNBase, torch.nn.MultiheadAttention)


def _flag_flipped(module: torch.nn.Module) -> bool:
    return isinstance(module, _AXIS_FLAGGED)


@remedy(RULE)
def axes_fixed(session: Session, finding: Finding) -> list[Trial] | str:
    """The `batch_first` flag of the recurrent and attention layers flipped, or the inputs' first two axes swapped (the
    better of the two).

    Recurrent layers and attention read time and batch from the axes their ``batch_first`` names: a model
    fed the other layout mixes samples (attention) or steps them as time (RNN)."""
    trials = []
    layers = [m for m in session.model.modules() if isinstance(m, _AXIS_FLAGGED)]
    if layers:
        flag = not bool(getattr(layers[0], "batch_first", False))
        kinds = "recurrent and attention layers" if len({type(m) for m in layers}) > 1 else "recurrent layers"
        if isinstance(layers[0], torch.nn.MultiheadAttention) and len({type(m) for m in layers}) == 1:
            kinds = "attention layers"
        trials.append(Trial(f"batch_first={flag} on the {kinds}", [module_flags(_flag_flipped, "batch_first", flag)]))
    elif finding.code == "RD207":
        return "no layer reads its batch axis from a batch_first flag: the mixing is in the model's own code"
    trials.append(Trial("inputs transposed (time and batch axes swapped)", [model_input_edited(_swap_leading_axes)]))
    for trial in trials:
        trial.partial = finding.code == "RD207"  # a reshape in the model's own code mixes samples too
    return trials


def _swap_leading_axes(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(0, 1) if x.dim() >= 2 else x

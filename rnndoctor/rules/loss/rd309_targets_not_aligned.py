"""RD309: targets not aligned with the inputs (equal to them, unshifted, or transposed apart)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.alignment import TargetLeak, TransposedTargets
from rnndoctor.rules.model.rd214_teacher_forcing_unshifted import PROBE
from rnndoctor.runtime.batches import replace_part
from rnndoctor.runtime.layout import SINGLE
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD309",
    checks=("alignment",),
    message=(
        "The targets equal the model's input {values} at {equal_share:.0%} of positions, and " + PROBE + ": "
        "each step is asked to predict what it is reading. A language model (or forecaster) needs its "
        "targets shifted one step ahead; without the shift it learns to copy, the loss falls to near zero, "
        "and nothing about what comes next is learned. (A sequence autoencoder that reconstructs its input "
        "through a bottleneck is the exception.)"
    ),
    remedy=(
        "Make the target of each position the next one:\n\n```python\ndata = tokens[:, :-1]"
        "            # or source[i:i + T] for (T, N) batches\ntarget = tokens[:, 1:]         "
        "# or source[i + 1:i + 1 + T]\n```"
    ),
    variants={
        "transposed": Wording(
            message=(
                "Read in the order the inputs use ({layout}), the targets are the next input token at only "
                "{next_token_share:.0%} of positions; read with batch and time swapped, at "
                "{other_order_share:.0%}. The inputs and the targets were laid out differently (one transposed or "
                "flattened in the other order), so every prediction is scored against a token from another "
                "sequence or another step."
            ),
            remedy=(
                "Build inputs and targets in the same layout, and flatten both the same way:\n\n```python\n"
                "data, target = source[i:i + T], source[i + 1:i + 1 + T]      # both (T, N)\n"
                "loss = loss_fn(output.view(-1, V), target.reshape(-1))        # both flattened time-major\n```"
            ),
        )
    },
    title="targets are not aligned with the inputs (equal to them, unshifted, or transposed apart)",
    severity=Severity.ERROR,
    what=(
        "Compares per-step targets with the model's input tokens. Targets equal to the inputs at the same "
        "positions, with an output that depends on the input at its own position, mean the model is asked "
        "to copy what it already sees (a language model without the +1 shift). Targets that are the next "
        "token only when read in the other axis order mean the inputs and the targets were laid out "
        "differently (one transposed, the other not)."
    ),
    why=(
        "A language model must predict token t+1 from tokens up to t. With targets equal to the inputs the "
        "task is copying: the loss falls to near zero, perplexity looks superb, and the model has learned "
        "nothing about the language. With targets laid out in another axis order, each output is scored "
        "against a token from another sequence or another step, and the loss stalls near chance."
    ),
    symptoms=(
        "Training loss near zero within a few hundred steps and generated text that repeats the prompt; or "
        "a loss that never leaves ln(vocabulary) although the model and data look fine."
    ),
    fix=(
        "Build targets as the inputs shifted by one step along time, in the same layout as the inputs "
        "(and flatten both the same way)."
    ),
    before=snippet(
        """
        data = source[i:i + seq_len]
        target = source[i:i + seq_len].reshape(-1)       # the same tokens
        """
    ),
    after=snippet(
        """
        data = source[i:i + seq_len]
        target = source[i + 1:i + 1 + seq_len].reshape(-1)   # the next token of each position
        """
    ),
    explains=("RD307", "RD503", "RD507", "RD601"),
)


@judges(RULE, TargetLeak)
def targets_are_inputs(leak: TargetLeak, options: Mapping[str, Any]) -> list[Finding]:
    """The model's main input equals the targets, unshifted, and feeds the output at its own step (a
    language model without the +1 shift): the output moves by more than ``changed`` at the changed step and
    by less than ``unchanged`` before it."""
    if not leak.main_input or not leak.reads_own_step(float(options["changed"]), float(options["unchanged"])):
        return []
    return [RULE.finding({**leak.evidence(), "values": "values" if leak.floats else "tokens"})]


@judges(RULE, TransposedTargets)
def transposed_targets(found: TransposedTargets, options: Mapping[str, Any]) -> list[Finding]:
    """The targets match the inputs (as next tokens, or equal) in at least ``same_share`` of positions only
    when read in the other axis order."""
    threshold = float(options["same_share"])
    if found.other_order_share < threshold or found.next_token_share >= threshold / 2:
        return []
    evidence = {
        "next_token_share": found.next_token_share,
        "other_order_share": found.other_order_share,
        "layout": found.layout,
    }
    return [RULE.finding(evidence, variant="transposed")]


@remedy(RULE)
def targets_shifted(session: Session, finding: Finding) -> list[Trial] | str:
    """Targets made the inputs shifted one step ahead, or transposed to the inputs' order."""
    layout = session.raw_layout()
    if layout is None or layout.time_axis is None or layout.kind == SINGLE:
        return "the time axis of the batches is unknown"
    time_axis = layout.time_axis
    if "other_order_share" in finding.evidence:

        def transposed(raw: Any) -> Any:
            batch = session.unpack(raw)
            targets = batch.targets
            if not isinstance(targets, torch.Tensor) or targets.dim() < 2:
                return raw
            return replace_part(batch, 1, targets.transpose(0, 1).contiguous())

        return [Trial("targets transposed to the inputs' order", batch_edit=transposed, closes_leak=False)]

    def shifted(raw: Any) -> Any:
        batch = session.unpack(raw)
        inputs, targets = batch.inputs, batch.targets
        if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
            return raw
        steps = inputs.shape[time_axis]
        if targets.dim() <= time_axis or targets.shape[time_axis] != steps:
            return raw
        shorter = replace_part(batch, 0, inputs.narrow(time_axis, 0, steps - 1))
        return replace_part(session.unpack(shorter), 1, inputs.narrow(time_axis, 1, steps - 1).to(targets.dtype))

    return [
        Trial("targets = inputs shifted one step ahead (x[:, :-1] → x[:, 1:])", batch_edit=shifted, closes_leak=True)
    ]

"""RD206: the outputs change when padding is appended (padding is not masked)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.model import PaddingProbe
from rnndoctor.runtime.batches import BatchFormatError, replace_part
from rnndoctor.runtime.layout import SINGLE, padding_id, sequence_lengths
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD206",
    options=(
        Option(
            "padding_tolerance",
            0.0001,
            "RD206: relative output change allowed when padding is appended",
            meaning="Relative change of the outputs allowed when padding steps are appended.",
            guards=("RD206",),
        ),
    ),
    checks=("probes",),
    message=(
        "Appending {added_steps} padding steps to every sequence (true lengths unchanged) changes the outputs by "
        "up to {max_relative_change:.2g} (relative) over {samples} samples: the model reads padding. Typical "
        "causes: reading out[:, -1] on right-padded batches, an RNN run without packing, or pooling that does "
        "not mask padded steps. Results then depend on how long the longest sequence in the batch is."
    ),
    remedy=(
        "Pack the sequences, or read each sequence's last valid step:\n\n```python\n"
        "packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=$batch_first, "
        "enforce_sorted=False)\n_, $state_h = $rnn(packed)\n"
        "last = $last   # each sequence's state at its real last step: (batch, $last_size)\n```"
    ),
    title="output depends on padding positions",
    severity=Severity.ERROR,
    what=(
        "For a batch whose padding is known (explicit lengths, or token ids equal to an embedding's "
        "padding_idx), appends extra padding steps to every sequence with the true lengths unchanged, runs "
        "the forward pass again in eval mode and reports when the outputs at real positions move. A model "
        "that packs, masks or reads each sequence's last valid step is unaffected by how much padding "
        "follows."
    ),
    why=(
        "Padding is an artifact of batching; if it changes the output, the prediction for a sequence "
        "depends on how long its batch neighbours happen to be. The typical cause is reading out[:, -1] "
        "from an unpacked RNN, which for short sequences is the state after running over pad steps, or "
        "pooling over all steps without a mask."
    ),
    symptoms=(
        "Predictions for the same sequence change with the batch it lands in; short sequences are "
        "predicted badly; evaluating with batch size 1 gives different numbers from larger batches."
    ),
    fix=(
        "Pack the batch with pack_padded_sequence(..., enforce_sorted=False) and read the final hidden "
        "state, or gather each sequence's output at lengths - 1; mask padded steps in any pooling."
    ),
    before=snippet(
        """
        out, _ = self.rnn(x)               # x padded to the longest sequence in the batch
        return self.head(out[:, -1])       # the last step is padding for shorter sequences
        """
    ),
    after=snippet(
        """
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(packed)          # h_n: the state at each sequence's real last step
        return self.head(h_n[-1])
        """
    ),
    explains=("RD306", "RD601"),
)


@judges(RULE, PaddingProbe)
def padding_leak(probe: PaddingProbe, options: Mapping[str, Any]) -> list[Finding]:
    """Appending padding (lengths unchanged) moves the outputs by more than ``padding_tolerance``."""
    if probe.max_relative_change <= float(options["padding_tolerance"]):
        return []
    evidence = {
        "max_relative_change": probe.max_relative_change,
        "samples": probe.samples,
        "added_steps": probe.added_steps,
        "padding": probe.source,
    }
    return [RULE.finding(evidence)]


@remedy(RULE)
def padding_moved_to_front(session: Session, finding: Finding) -> list[Trial] | str:
    """The padding moved in front of each sequence, so the last step read is real."""
    layout = session.raw_layout()
    if layout is None or layout.time_axis is None or layout.kind == SINGLE:
        return "the time axis of the batches is unknown"

    def left_padded(raw: Any) -> Any:
        try:
            batch = session.unpack(raw)
        except BatchFormatError:
            return raw
        inputs = batch.inputs
        if not isinstance(inputs, torch.Tensor):
            return raw
        sized = layout.resized(inputs)
        pad = padding_id(session.model) if not inputs.is_floating_point() else None
        found = sequence_lengths(inputs.cpu(), sized, batch.lengths, pad)
        if found is None or sized.steps is None:
            return raw
        x = sized.batch_first(inputs).clone()
        for row, length in enumerate(found[0]):
            x[row] = torch.roll(x[row], shifts=sized.steps - int(length), dims=0)
        return replace_part(batch, 0, sized.batch_first(x))

    # Reading the last padded step is one way padding leaks; pooling or attention over it is another.
    return [
        Trial("padding moved in front of each sequence, so its last step is real", batch_edit=left_padded, partial=True)
    ]

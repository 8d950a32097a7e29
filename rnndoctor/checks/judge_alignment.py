"""Pure judgements of target alignment (RD214, RD309)."""

from __future__ import annotations

from dataclasses import dataclass

from rnndoctor.findings import Finding
from rnndoctor.registry import make_finding


@dataclass
class TargetLeak:
    """A model argument that equals the targets and feeds the output at its own step."""

    argument: str
    main_input: bool
    """The model's first tensor argument (its input) rather than another one (a decoder input)."""
    equal_share: float
    step: int
    change_at_step: float
    """Relative change of the outputs at ``step`` when the argument changes there."""
    floats: bool = False


def judge_target_leak(leak: TargetLeak) -> list[Finding]:
    """RD309 when the main input is the targets unshifted; RD214 when another argument (a teacher-forced
    decoder input) is."""
    evidence = {
        "argument": leak.argument,
        "equal_share": leak.equal_share,
        "probed_step": leak.step,
        "output_change_at_step": leak.change_at_step,
    }
    probe = (
        f"changing it at step {leak.step} moves the prediction for step {leak.step} by {leak.change_at_step:.2g} "
        "(relative) and no earlier prediction"
    )
    if leak.main_input:
        what = "values" if leak.floats else "tokens"
        return [
            make_finding(
                "RD309",
                f"The targets equal the model's input {what} at {leak.equal_share:.0%} of positions, and {probe}: "
                f"each step is asked to predict the {what[:-1]} it is reading. A language model (or forecaster) "
                "needs its targets shifted one step ahead; without the shift it learns to copy, the loss falls "
                "to near zero, and nothing about what comes next is learned. (A sequence autoencoder that "
                "reconstructs its input through a bottleneck is the exception.)",
                "Make the target of each position the next one:\n\n```python\ndata = tokens[:, :-1]"
                "            # or source[i:i + T] for (T, N) batches\ntarget = tokens[:, 1:]         "
                "# or source[i + 1:i + 1 + T]\n```",
                evidence,
            )
        ]
    return [
        make_finding(
            "RD214",
            f"The model's argument {leak.argument} (a decoder input) equals the targets at {leak.equal_share:.0%} "
            f"of positions, and {probe}: the decoder is given the very token it must predict. Teacher forcing "
            "must feed the previous target; fed the current one, the decoder learns to copy and fails at "
            "inference, where the answer is not available.",
            "Shift the decoder input one step right behind a start token:\n\n```python\n"
            "tgt_in = torch.cat([torch.full_like(tgt[:, :1], SOS), tgt[:, :-1]], dim=1)\n"
            "logits = model(src, tgt_in)\n```",
            evidence,
        )
    ]


def judge_transposed_targets(own: float, other: float, layout: str, threshold: float) -> list[Finding]:
    """RD309: the targets match the inputs (as next tokens, or equal) only when read in the other order."""
    if other < threshold or own >= threshold / 2:
        return []
    return [
        make_finding(
            "RD309",
            f"Read in the order the inputs use ({layout}), the targets are the next input token at only "
            f"{own:.0%} of positions; read with batch and time swapped, at {other:.0%}. The inputs and the "
            "targets were laid out differently (one transposed or flattened in the other order), so every "
            "prediction is scored against a token from another sequence or another step.",
            "Build inputs and targets in the same layout, and flatten both the same way:\n\n```python\n"
            "data, target = source[i:i + T], source[i + 1:i + 1 + T]      # both (T, N)\n"
            "loss = loss_fn(output.view(-1, V), target.reshape(-1))        # both flattened time-major\n```",
            {"next_token_share": own, "other_order_share": other, "layout": layout},
        )
    ]

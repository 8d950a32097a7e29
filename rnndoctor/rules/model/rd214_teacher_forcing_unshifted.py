"""RD214: the decoder sees the token it must predict (teacher forcing not shifted)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.alignment import StepwiseFeeding, TargetLeak
from rnndoctor.runtime.patches import argument_edited
from rnndoctor.runtime.session import ArgumentKey, Session

PROBE = (
    "changing it at step {probed_step} moves the prediction for step {probed_step} by "
    "{output_change_at_step:.2g} (relative) and no earlier prediction"
)
"""How the probe that catches a target-like argument is described (RD214 and RD309)."""

RULE = Rule(
    code="RD214",
    checks=("alignment", "stepwise_alignment"),
    message=(
        "The model's argument {argument} (a decoder input) equals the targets at {equal_share:.0%} of "
        "positions, and " + PROBE + ": the decoder is given the very token it must predict. Teacher forcing "
        "must feed the previous target; fed the current one, the decoder learns to copy and fails at "
        "inference, where the answer is not available."
    ),
    remedy=(
        "Shift the decoder input one step right behind a start token:\n\n```python\n"
        "tgt_in = torch.cat([torch.full_like(tgt[:, :1], SOS), tgt[:, :-1]], dim=1)\n"
        "logits = model(src, tgt_in)\n```"
    ),
    variants={
        "stepwise": Wording(
            message=(
                "{module} is called step by step, and in {leaking_steps} of {steps} training steps it was fed, "
                "at (nearly) every call, the very token its output is scored against at that call "
                "({equal_share:.0%} of {calls} calls; the previous step's token, as teacher forcing feeds it: "
                "{previous_target_share:.0%}). The decoder learns to copy its input, the training loss falls "
                "fast, and at inference, where the answer is not available, it fails."
            ),
            remedy=(
                "Compute the step's output and loss first, then feed the current target as the next input:"
                "\n\n```python\nfor di in range(target_length):\n"
                "    decoder_output, decoder_hidden = decoder(decoder_input, decoder_hidden)\n"
                "    loss += criterion(decoder_output, target_tensor[di])\n"
                "    decoder_input = target_tensor[di]   # the next step's input, after this step\n```"
            ),
        ),
    },
    title="the decoder sees the token it must predict (teacher forcing not shifted)",
    severity=Severity.ERROR,
    what=(
        "Looks for a tensor the model receives besides its main input (a decoder input) that equals the "
        "targets position for position, then changes that tensor at one step and measures whether the "
        "output at the same step moves. Both together mean each prediction is computed from its own answer."
    ),
    why=(
        "Teacher forcing feeds the decoder the previous target token, [SOS] + y[:-1]. Fed y itself, the "
        "decoder learns to copy its input: the training loss falls to near zero within a few steps, and at "
        "inference, where the answer is not available, it produces nonsense."
    ),
    symptoms=(
        "Training loss near zero and perfect teacher-forced accuracy almost at once, while greedy decoding "
        "or validation without teacher forcing is no better than chance."
    ),
    fix="Shift the decoder input one step right and start it with the start-of-sequence token.",
    before=snippet(
        """
        logits = model(src, tgt)                     # decoder input = the targets
        loss = loss_fn(logits.reshape(-1, V), tgt.reshape(-1))
        """
    ),
    after=snippet(
        """
        sos = torch.full_like(tgt[:, :1], SOS)
        tgt_in = torch.cat([sos, tgt[:, :-1]], dim=1)   # [SOS, y0, ..., y(S-2)]
        logits = model(src, tgt_in)
        loss = loss_fn(logits.reshape(-1, V), tgt.reshape(-1))
        """
    ),
    explains=("RD307", "RD601"),
)


MIN_LEAKING_STEPS = 2
LEAKING_STEP_SHARE = 0.25
"""A leak fed in a quarter of the steps is a leak: teacher forcing may be drawn at random per step."""


@judges(RULE, StepwiseFeeding)
def stepped_decoder_sees_target(feeding: StepwiseFeeding, options: Mapping[str, Any]) -> list[Finding]:
    """A decoder stepped by hand (script mode) fed its own target at the same call, in at least
    `MIN_LEAKING_STEPS` training steps and a `LEAKING_STEP_SHARE` of them, more often than the previous one."""
    if feeding.steps == 0 or feeding.leaking_steps < MIN_LEAKING_STEPS:
        return []
    if (
        feeding.leaking_steps < LEAKING_STEP_SHARE * feeding.steps
        or feeding.fed_own_target <= feeding.fed_previous_target
    ):
        return []
    evidence = {
        "module": feeding.module,
        "leaking_steps": feeding.leaking_steps,
        "steps": feeding.steps,
        "equal_share": feeding.fed_own_target,
        "previous_target_share": feeding.fed_previous_target,
        "calls": feeding.calls,
    }
    return [RULE.finding(evidence, variant="stepwise")]


@judges(RULE, TargetLeak)
def decoder_sees_target(leak: TargetLeak, options: Mapping[str, Any]) -> list[Finding]:
    """A model argument other than its main input (a teacher-forced decoder input) equals the targets and
    feeds the output at its own step: changing it at a step moves that step's output by more than
    ``changed`` and the earlier ones by less than ``unchanged``."""
    if leak.main_input or not leak.reads_own_step(float(options["changed"]), float(options["unchanged"])):
        return []
    return [RULE.finding(leak.evidence())]


def _shifted_right(x: torch.Tensor, axis: int) -> torch.Tensor:
    """``x`` moved one step later along ``axis`` behind a zero start token, its last step dropped."""
    start = torch.zeros_like(x.narrow(axis, 0, 1))
    return torch.cat([start, x.narrow(axis, 0, x.shape[axis] - 1)], dim=axis)


@remedy(RULE)
def decoder_input_shifted(session: Session, finding: Finding) -> list[Trial] | str:
    """The decoder input shifted one step right behind a start token 0."""
    name = str(finding.evidence.get("argument", ""))
    layout = session.layout()
    if not name or layout is None or layout.time_axis is None:
        return "the decoder input or its time axis is unknown"
    key: ArgumentKey = int(name) if name.isdigit() else name
    axis = layout.time_axis
    return [
        Trial(
            f"decoder input (argument {name}) shifted one step right behind a start token 0",
            [argument_edited(lambda x: _shifted_right(x, axis), key)],
            closes_leak=True,
        )
    ]

"""Pure judgements of target alignment (RD214, RD309)."""

from __future__ import annotations

from dataclasses import dataclass

from rnndoctor.findings import Finding, Severity
from rnndoctor.rules import Rule, Wording, get_rule, snippet


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
    if leak.main_input:
        return [get_rule("RD309").verdict({**evidence, "values": "values" if leak.floats else "tokens"})]
    return [get_rule("RD214").verdict(evidence)]


_PROBE = (
    "changing it at step {probed_step} moves the prediction for step {probed_step} by "
    "{output_change_at_step:.2g} (relative) and no earlier prediction"
)


@dataclass
class StepwiseFeeding:
    """How often a module called step by step is fed, at a step, the very target its output is scored on
    there (a leak), or the previous step's target (teacher forcing as it should be)."""

    module: str
    steps: int
    """Training steps (script iterations) in which the module's calls could be compared with their targets."""
    leaking_steps: int
    """Of those, the steps in which (nearly) every call was fed its own target."""
    fed_own_target: float
    """Share of all compared calls fed the target of their own loss."""
    fed_previous_target: float
    """Share of compared calls fed the target of the previous call's loss."""
    calls: int


MIN_LEAKING_STEPS = 2
LEAKING_STEP_SHARE = 0.25
"""A leak fed in a quarter of the steps is a leak: teacher forcing may be drawn at random per step."""


def judge_stepwise_feeding(feeding: StepwiseFeeding) -> list[Finding]:
    """RD214 for a decoder stepped by hand that is fed its own target at the same step."""
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
    return [get_rule("RD214").verdict(evidence, variant="stepwise", check="stepwise_alignment")]


def judge_transposed_targets(own: float, other: float, layout: str, threshold: float) -> list[Finding]:
    """RD309: the targets match the inputs (as next tokens, or equal) only when read in the other order."""
    if other < threshold or own >= threshold / 2:
        return []
    evidence = {"next_token_share": own, "other_order_share": other, "layout": layout}
    return [get_rule("RD309").verdict(evidence, variant="transposed")]


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD214",
        checks=("alignment", "stepwise_alignment"),
        message=(
            "The model's argument {argument} (a decoder input) equals the targets at {equal_share:.0%} of "
            "positions, and " + _PROBE + ": the decoder is given the very token it must predict. Teacher forcing "
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
    ),
    Rule(
        code="RD309",
        checks=("alignment",),
        message=(
            "The targets equal the model's input {values} at {equal_share:.0%} of positions, and " + _PROBE + ": "
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
    ),
)

"""A model stepped by hand (script mode, RD214): is a decoder called once per step fed, at that step, the
token its loss compares the output with?

The script's observed steps are programs of calls (`rnndoctor.script.program`); each loss call knows which
call's output it scored. For every such call, the integer data the call was fed is compared with the
loss's target there, and with the previous loss's target (what teacher forcing should feed).
"""

from __future__ import annotations

from typing import Any

import torch

from rnndoctor.core.errors import SkipCheck
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.alignment import StepwiseFeeding
from rnndoctor.script.adapter import CALL_KEY
from rnndoctor.script.program import StepProgram
from rnndoctor.script.records import Flow, InputSlot

LEAKING_CALL_SHARE = 0.8
"""A step leaks when at least this share of its compared calls were fed their own target."""


def _tokens(value: Any) -> list[torch.Tensor]:
    """The integer data tensors a call was fed (not an earlier call's output, not the batch's inputs)."""
    if isinstance(value, torch.Tensor):
        return [value] if not value.is_floating_point() and value.dtype != torch.bool else []
    if isinstance(value, (Flow, InputSlot)):
        return []
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tokens(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tokens(item)]
    return []


def _equal(tokens: list[torch.Tensor], target: Any) -> bool:
    if not isinstance(target, torch.Tensor) or target.is_floating_point():
        return False
    flat = target.reshape(-1)
    return any(t.numel() == flat.numel() and bool(torch.equal(t.reshape(-1).to(flat.device), flat)) for t in tokens)


def measure(programs: list[StepProgram]) -> StepwiseFeeding | None:
    steps = leaking = calls = own = previous = 0
    module_names: dict[str, int] = {}
    for program in programs:
        targets = _loss_targets(program)
        compared = own_here = 0
        for index, (source, _link) in enumerate(program.losses):
            call = program.calls[source]
            tokens = _tokens((call.args, call.kwargs))
            if not tokens:
                continue
            compared += 1
            name = type(call.module).__name__
            module_names[name] = module_names.get(name, 0) + 1
            if _equal(tokens, targets[index]):
                own_here += 1
            elif index > 0 and _equal(tokens, targets[index - 1]):
                previous += 1
        if compared >= 2:
            steps += 1
            calls += compared
            own += own_here
            leaking += int(own_here >= LEAKING_CALL_SHARE * compared)
    if not calls:
        return None
    module = max(module_names, key=lambda name: module_names[name])
    return StepwiseFeeding(module, steps, leaking, own / calls, previous / calls, calls)


def _loss_targets(program: StepProgram) -> list[Any]:
    """Each loss call's own target (the program's targets are their concatenation)."""
    targets = program.targets
    count = len(program.losses)
    if count == 1:
        return [targets]
    if isinstance(targets, torch.Tensor) and targets.shape[0] % count == 0:
        return list(targets.reshape(count, -1))
    return [None] * count


@register
class StepwiseAlignmentCheck(Check):
    name = "stepwise_alignment"
    cost = 1
    script_only = True
    quick = True
    description = "a model called step by step in the script: is a step fed the token it must predict?"

    def run(self, ctx: CheckContext) -> Outcome:
        batches = ctx.session.sample("train").batches
        programs = [b[CALL_KEY] for b in batches if isinstance(b, dict) and isinstance(b.get(CALL_KEY), StepProgram)]
        stepped = [p for p in programs if len(p.losses) > 1]
        if not stepped:
            raise SkipCheck("no model called step by step with a loss per step (script mode)")
        feeding = measure(stepped)
        if feeding is None:
            raise SkipCheck("the stepped calls are fed no integer tokens to compare with the targets")
        ctx.publish(feeding)
        return Outcome(
            f"{feeding.module}: {feeding.calls} calls over {feeding.steps} steps; fed its own target "
            f"{feeding.fed_own_target:.0%}, the previous one {feeding.fed_previous_target:.0%}",
            {
                "steps": feeding.steps,
                "leaking_steps": feeding.leaking_steps,
                "fed_own_target": round(feeding.fed_own_target, 4),
                "fed_previous_target": round(feeding.fed_previous_target, 4),
            },
        )

"""Target alignment (RD214, RD309): are the targets something the model already reads?

Per-step targets are compared with every tensor the model receives. An input equal to the targets at the
same positions is then perturbed at one step: when the output at that step moves and no earlier output
does, each prediction is computed from its own answer — a language model without the +1 shift (RD309 on
the main input) or a teacher-forced decoder fed the targets themselves (RD214 on another input). Targets
that are the next input token only when read in the other axis order were laid out differently from the
inputs (RD309, transposed).
"""

from __future__ import annotations

from typing import Any

import torch

from rnndoctor.core.errors import SkipCheck
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.alignment import TargetLeak, TransposedTargets
from rnndoctor.runtime.layout import AXIS1, FLAT_TIME_FIRST, ONE_SEQUENCE, Layout, SampleView, primary_tensor
from rnndoctor.runtime.session import Forward, Session, with_argument
from rnndoctor.setup.config import TIME_FIRST


class Arguments:
    """A forward pre-hook that records every tensor argument of the model's first call, and can swap one."""

    def __init__(self, model: torch.nn.Module, swap: tuple[Any, torch.Tensor] | None = None) -> None:
        self.tensors: dict[Any, torch.Tensor] = {}
        self.swap = swap
        self.done = False
        self.handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.done:
            return None
        self.done = True
        self.tensors = {i: a for i, a in enumerate(args) if isinstance(a, torch.Tensor)}
        self.tensors.update({k: v for k, v in kwargs.items() if isinstance(v, torch.Tensor)})
        if self.swap is None:
            return None
        return with_argument(args, kwargs, *self.swap)

    def remove(self) -> None:
        self.handle.remove()


def run_with(session: Session, raw: Any, swap: tuple[Any, torch.Tensor] | None = None) -> tuple[Forward, Arguments]:
    recorder = Arguments(session.model, swap)
    try:
        return session.forward(raw), recorder
    finally:
        recorder.remove()


def samples_first(tensor: torch.Tensor, layout: Layout, first: bool) -> tuple[torch.Tensor, bool] | None:
    """The argument with samples on axis 0 (and whether that took a transpose), or None."""
    n = layout.samples
    if first and layout.steps is not None:
        return layout.batch_first(tensor), layout.kind == TIME_FIRST
    if tensor.dim() >= 2 and tensor.shape[0] == n:
        return tensor, False
    if tensor.dim() >= 2 and tensor.shape[1] == n:
        return tensor.transpose(0, 1), True
    return None


def equal_share(candidate: torch.Tensor, targets: torch.Tensor, ignore: int | None) -> float:
    """Share of target positions where the candidate holds the target value: for float targets with one value
    per step, in any of the candidate's features; with several, in all of them."""
    if candidate.is_floating_point() != targets.is_floating_point():
        return 0.0
    if not candidate.is_floating_point():
        if candidate.shape != targets.shape:
            return 0.0
        valid = targets != ignore if ignore is not None else torch.ones_like(targets, dtype=torch.bool)
        return float((candidate == targets)[valid].double().mean()) if bool(valid.any()) else 0.0
    wanted = targets.reshape(targets.shape[0], targets.shape[1], -1)
    if candidate.dim() < 2 or tuple(candidate.shape[:2]) != tuple(wanted.shape[:2]):
        return 0.0
    columns = candidate.reshape(candidate.shape[0], candidate.shape[1], -1)
    if wanted.shape[-1] == 1:
        return float(torch.isclose(columns, wanted, rtol=1e-5, atol=1e-7).double().mean(dim=(0, 1)).max())
    if columns.shape[-1] != wanted.shape[-1]:
        return 0.0
    return float(torch.isclose(columns, wanted, rtol=1e-5, atol=1e-7).all(dim=-1).double().mean())


def perturbed(canonical: torch.Tensor, step: int) -> torch.Tensor:
    """The tensor with every sample's value at ``step`` replaced by another sample's (tokens stay valid)."""
    changed = canonical.clone()
    rolled = canonical[:, step].roll(1, dims=0)
    if canonical.is_floating_point():
        rolled = rolled + canonical.std().clamp_min(1e-3)
    changed[:, step] = rolled
    return changed


def step_dependency(
    session: Session, raw: Any, key: Any, canonical: torch.Tensor, transposed: bool, base: Forward, step: int
) -> tuple[float, float] | None:
    """Relative change of the outputs at ``step`` and before it when the argument changes at ``step``."""
    changed = perturbed(canonical, step)
    value = changed.transpose(0, 1) if transposed else changed
    other, _ = run_with(session, raw, (key, value.contiguous()))
    _, view = session.views(base)
    old_out, new_out = primary_tensor(base.outputs), primary_tensor(other.outputs)
    if view is None or view.time_axis is None or old_out is None or new_out is None:
        return None
    old, new = view.canonical(old_out.detach()).double(), view.canonical(new_out.detach()).double()
    if new.shape != old.shape or step >= old.shape[view.time_axis]:
        return None
    at = old.select(view.time_axis, step), new.select(view.time_axis, step)
    before = old.narrow(view.time_axis, 0, step), new.narrow(view.time_axis, 0, step)

    def relative(pair: tuple[torch.Tensor, torch.Tensor]) -> float:
        """The change against how much the outputs differ between samples there (log-softmax outputs
        share a large constant that would hide any change measured against their norm)."""
        spread = pair[0] - pair[0].mean(dim=0, keepdim=True)
        scale = float(spread.norm()) or float(pair[0].norm()) or 1.0
        return float((pair[1] - pair[0]).norm()) / scale

    return relative(at), relative(before)


def next_token_share(inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of positions where the target is the next input token (samples first, time second)."""
    if inputs.shape != targets.shape or inputs.dim() != 2 or inputs.shape[1] < 2:
        return 0.0
    return float((inputs[:, 1:] == targets[:, :-1]).double().mean())


def other_reading(targets: torch.Tensor, view: SampleView, samples: int) -> torch.Tensor | None:
    """The targets read in the other axis order than the layout's: what they hold if they were laid out
    batch-first while the inputs are time-major, or the other way round."""
    flat = targets.reshape(-1)
    if view.steps is None or flat.numel() != samples * view.steps or view.arrangement == ONE_SEQUENCE:
        return None
    if view.arrangement in (FLAT_TIME_FIRST, AXIS1):
        return flat.reshape(samples, view.steps)
    return flat.reshape(view.steps, samples).transpose(0, 1)


@register
class AlignmentCheck(Check):
    name = "alignment"
    cost = 3
    quick = True
    description = "targets the model already reads: unshifted LM targets, unshifted teacher forcing, transposed targets"
    options = (
        Option(
            "same_share",
            0.9,
            "RD214/RD309: share of positions where a model argument equals the targets",
            meaning=(
                "Share of positions at which a model argument (or the targets read in the other axis order) equals "
                "the targets for it to count as the targets themselves."
            ),
            guards=("RD214", "RD309"),
        ),
        Option(
            "changed",
            1e-3,
            "RD214/RD309: relative output change at the perturbed step that counts as reading it",
            meaning=(
                "Relative change of the outputs at a step when the target-like argument is perturbed there, above "
                "which the model reads the target it is asked to predict."
            ),
            guards=("RD214", "RD309"),
        ),
        Option(
            "unchanged",
            1e-6,
            "RD214/RD309: while outputs before that step move less than this (a causal model)",
            meaning=(
                "The outputs before the perturbed step must move less than this, so the model reads the sequence "
                "causally and the perturbed target is what reaches the output."
            ),
            guards=("RD214", "RD309"),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        raw = session.sample("train").batches[0]
        session.model.eval()
        base, arguments = run_with(session, raw)
        layout = session.layout()
        targets_view, _ = session.views(base)
        targets = primary_tensor(base.targets)
        if layout is None or targets_view is None or targets is None or targets_view.steps is None:
            raise SkipCheck("needs per-step targets and a model input whose samples can be told apart")
        layout = layout.resized(base.model_input)
        wanted = targets_view.canonical(targets.detach())
        ignore = getattr(session.loss_fn, "ignore_index", None)
        metrics: dict[str, Any] = {"arguments": len(arguments.tensors)}
        same = float(ctx.options["same_share"])
        first_key = next(iter(arguments.tensors), None)
        for key, tensor in arguments.tensors.items():
            found = samples_first(tensor.detach(), layout, key == first_key)
            if found is None:
                continue
            canonical, transposed = found
            share = equal_share(canonical, wanted, ignore if isinstance(ignore, int) else None)
            metrics[f"equal_share[{key}]"] = round(share, 4)
            if share < same:
                continue
            step = min(canonical.shape[1], wanted.shape[1]) // 2
            dependency = step_dependency(session, raw, key, canonical, transposed, base, step)
            if dependency is None:
                continue
            at, before = dependency
            metrics[f"dependency[{key}]"] = {"at_step": at, "before_step": before}
            ctx.publish(TargetLeak(str(key), key == first_key, share, step, at, before, canonical.is_floating_point()))
        main = arguments.tensors.get(first_key) if first_key is not None else None
        if main is not None and not main.is_floating_point() and not ctx.findings:
            inputs = layout.batch_first(main.detach()) if layout.steps is not None else None
            alternative = other_reading(targets.detach(), targets_view, layout.samples)
            if inputs is not None and alternative is not None:
                own = max(next_token_share(inputs, wanted), equal_share(inputs, wanted, None))
                other = max(next_token_share(inputs, alternative), equal_share(inputs, alternative, None))
                metrics.update(next_token_share=own, other_order_share=other)
                ctx.publish(TransposedTargets(own, other, layout.label))
        return Outcome(f"{len(arguments.tensors)} model argument(s) compared with the targets", metrics)

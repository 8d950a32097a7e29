"""Loss/target compatibility (RD301-RD308), measured on one real batch before any training.

One forward pass in training mode and at most one backward pass (to the last layer's output only):
what the outputs look like along the loss's class axis, what the targets look like, the loss at
initialization, and which axis the loss's gradient treats as classes.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from rnndoctor.core.errors import SkipCheck, UserCodeError
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.runtime.heads import HeadRecorder, summed_over
from rnndoctor.runtime.layout import padding_id, primary_tensor, sequence_lengths
from rnndoctor.runtime.session import Forward, Session
from rnndoctor.runtime.task import class_axis_and_count, is_one_hot, loss_family, loss_ignore_index
from rnndoctor.runtime.tracebacks import first_line

PROBABILITY_TOLERANCE = 1e-3
"""How far from 1 a row may sum (and logsumexp from 0) and still count as (log-)probabilities."""


CLASS_LIKE_MAX_VALUES = 20
"""Distinct target values recorded at most (more: the targets are quantities, not class ids; RD301)."""


def measure(
    session: Session, raw: Any, max_values: int = CLASS_LIKE_MAX_VALUES
) -> tuple[LossMeasurement, UserCodeError | None]:
    """Measure one batch; the loss's own error, if it raised, is returned rather than raised."""
    session.model.train()
    recorder = HeadRecorder(session.model)
    try:
        forward = session.forward(raw, grad=True)
    finally:
        recorder.remove()
    outputs, targets = primary_tensor(forward.outputs), primary_tensor(forward.targets)
    if outputs is None or targets is None:
        raise SkipCheck("the model's outputs or the targets hold no tensor")
    loss_name = session.loss_name
    family = loss_family(loss_name)
    out = outputs.detach().double()
    finite = out[torch.isfinite(out)]
    axis = 1 if family == "index" and out.dim() >= 2 else -1
    t = targets.detach()
    t_float = t.double()
    integer_valued = bool(t.numel()) and bool(torch.equal(t_float, t_float.round()))
    distinct = torch.unique(t_float)
    _, classes = class_axis_and_count(outputs.detach(), t) if family == "index" else (None, None)
    m = LossMeasurement(
        loss=loss_name,
        family=family,
        output_shape=tuple(outputs.shape),
        target_shape=tuple(targets.shape),
        target_is_float=t.is_floating_point(),
        target_integer_valued=integer_valued,
        target_values=[float(v) for v in distinct[: max_values + 1]],
        target_one_hot=t.dim() >= 2 and is_one_hot(t, dim=-1),
        output_min=float(finite.min()) if finite.numel() else math.nan,
        output_max=float(finite.max()) if finite.numel() else math.nan,
        rows_are_probabilities=_probability_rows(out, axis),
        rows_are_log_probabilities=_log_probability_rows(out, axis),
        last_axis_log_probabilities=_log_probability_rows(out, -1),
        last_op=last_computing_op(outputs.grad_fn),
        num_classes=classes,
        ignore_index=loss_ignore_index(session.loss_fn),
        head_name=recorder.name,
    )
    _add_target_moments(m, session)
    _add_padding(m, forward, session)
    try:
        loss = session.loss(forward.outputs, forward.targets)
    except UserCodeError as exc:
        m.loss_error = first_line(exc.original)
        return m, exc
    m.loss_value = float(loss.detach().double().mean()) / summed_over(session, targets) if loss.numel() else None
    head, head_axis = recorder.output, recorder.feature_axis
    index_head = family == "index" and outputs.dim() >= 3 and head is not None and head_axis is not None
    if index_head and head is not None and loss.requires_grad and loss.numel() == 1:
        session.backward_passes += 1
        (grad,) = torch.autograd.grad(loss, head, allow_unused=True)
        if grad is not None:
            g = grad.detach().double()
            magnitude = float(g.abs().sum())
            if magnitude > 0:
                m.class_axis_gradient_balance = float(g.sum(dim=head_axis).abs().sum()) / magnitude
    return m, None


SHAPE_ONLY_OPS = (
    "View",
    "Reshape",
    "Unsafe",
    "Squeeze",
    "Unsqueeze",
    "Permute",
    "Transpose",
    "T",
    "Select",
    "Slice",
    "Clone",
    "Expand",
    "Contiguous",
    "Alias",
    "ToCopy",
)


def last_computing_op(grad_fn: Any) -> str:
    """The name of the last operation that changed values, looking through reshapes and squeezes."""
    node = grad_fn
    for _ in range(32):
        if node is None:
            return ""
        name = type(node).__name__
        if not name.startswith(SHAPE_ONLY_OPS):
            return name
        parents = [fn for fn, _ in node.next_functions if fn is not None]
        if len(parents) != 1:
            return name
        node = parents[0]
    return ""


def _probability_rows(out: torch.Tensor, axis: int) -> bool:
    if out.dim() < 2 or out.shape[axis] < 2 or not bool(torch.isfinite(out).all()):
        return False
    in_range = bool(((out >= -PROBABILITY_TOLERANCE) & (out <= 1 + PROBABILITY_TOLERANCE)).all())
    return in_range and bool(((out.sum(dim=axis) - 1).abs() < PROBABILITY_TOLERANCE).all())


def _log_probability_rows(out: torch.Tensor, axis: int) -> bool:
    if out.dim() < 2 or out.shape[axis] < 2 or not bool(torch.isfinite(out).all()):
        return False
    return bool((out.logsumexp(dim=axis).abs() < PROBABILITY_TOLERANCE).all())


def _tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _add_target_moments(m: LossMeasurement, session: Session) -> None:
    if m.family != "regression":
        return
    values = []
    if session.forward_fn is None and session.unpackable("train"):
        values = [b.targets.detach().double().reshape(-1) for b in session.batches("train") if _tensor(b.targets)]
    if not values:
        return
    flat = torch.cat(values)
    flat = flat[torch.isfinite(flat)]
    if flat.numel() > 1:
        m.target_variance = float(flat.var())


def _add_padding(m: LossMeasurement, forward: Forward, session: Session) -> None:
    """Count padded time steps whose targets the loss would score (per-timestep targets only)."""
    layout = session.layout()
    model_input = forward.model_input
    if layout is None or not isinstance(model_input, torch.Tensor) or not isinstance(forward.targets, torch.Tensor):
        return
    layout = layout.resized(model_input)
    view, _ = session.views(forward)
    if view is None or view.steps is None or view.steps != layout.steps:
        return
    inputs = model_input.detach().cpu()
    explicit = forward.batch.lengths if forward.batch is not None else None
    pad = padding_id(session.model) if not inputs.is_floating_point() else None
    found = sequence_lengths(inputs, layout, explicit, pad)
    if found is None:
        return
    lengths, _ = found
    targets = view.canonical(forward.targets.detach().cpu())
    if targets.dim() > 2 and m.family != "index":
        targets = targets.reshape(targets.shape[0], targets.shape[1], -1)[..., 0]
    if targets.dim() != 2:
        return
    steps = targets.shape[1]
    padded = torch.arange(steps)[None, :] >= torch.tensor(lengths)[:, None]
    if m.family == "index":
        scored = padded & (targets != (m.ignore_index if m.ignore_index is not None else -(10**9)))
    elif m.family in ("binary", "regression") and getattr(session.loss_fn, "reduction", "mean") != "none":
        scored = padded
    else:
        return
    m.padded_positions = int(padded.sum())
    m.padded_scored = int(scored.sum())


@register
class LossCheck(Check):
    name = "loss"
    cost = 3
    quick = True
    description = "loss/target compatibility on one real batch"
    options = (
        Option(
            "class_like_max_values",
            CLASS_LIKE_MAX_VALUES,
            "RD301: integer targets with at most this many distinct values look like class ids",
            meaning=(
                "A regression loss on integer targets with at most this many distinct values is judged as a loss "
                "applied to class ids; with more values the targets are taken as counts or quantities."
            ),
            guards=("RD301",),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        m, loss_error = measure(session, session.sample("train").batches[0], int(options["class_like_max_values"]))
        findings = ctx.publish(m)
        if loss_error is not None and not findings:
            raise loss_error
        metrics = {
            "loss": m.loss,
            "initial_loss": m.loss_value,
            "output_shape": list(m.output_shape),
            "target_shape": list(m.target_shape),
            "output_range": [m.output_min, m.output_max],
            "last_op": m.last_op,
            "class_axis_gradient_balance": m.class_axis_gradient_balance,
        }
        value = f"{m.loss_value:.4g}" if m.loss_value is not None else "not computed"
        return Outcome(
            f"{m.loss} on outputs {list(m.output_shape)} and targets {list(m.target_shape)}: loss {value}", metrics
        )

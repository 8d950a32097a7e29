"""When and how the training loops score a subset of the target positions (`rnndoctor.runtime.scoring`).

The plan is a fact: decided once per run, on the first training batch, by comparing the loss of the subset
with the full outputs' loss at the same positions, and, for a user's ``train_step``, by running it once with
the subset in place. Anything that does not line up leaves every position scored.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch

from rnndoctor.core.errors import UserCodeError
from rnndoctor.runtime.budget import MIN_STEP_SAMPLES, sized, within_step_budget
from rnndoctor.runtime.facts import fact
from rnndoctor.runtime.scoring import (
    PositionSubset,
    ScoringMismatch,
    ScoringPlan,
    agrees,
    candidate_head,
    layout_axis,
    per_position_loss,
    wide_head,
)
from rnndoctor.runtime.session import Forward, Session
from rnndoctor.runtime.stepping import user_step


@contextlib.contextmanager
def scored_positions(session: Session) -> Iterator[None]:
    """Inside this block the training steps and evaluations score a subset of the positions, where the plan
    allows it (else the block changes nothing)."""
    if session.scoring is not None or session.scored_positions <= 0:
        yield
        return
    plan = fact(session, scoring_plan)
    if plan is None or plan.disabled:
        yield
        return
    subset = PositionSubset(plan, session.model, session.seed)
    session.scoring = subset
    session.scoring_used = plan.describe()
    try:
        yield
    finally:
        subset.remove()
        session.scoring = None


def evaluation_batch(session: Session, raw: Any) -> Any:
    """The samples of ``raw`` an evaluation pass needs while a subset is scored: as many as give the scored
    positions with every step of theirs (at least two). An evaluation has no gradient to keep whole, and the
    loss it reads rests on the positions scored, not on how many sequences they come from."""
    scoring = session.scoring
    size = sized(session, raw) if scoring is not None and not scoring.disabled else None
    if scoring is None or size is None:
        return raw
    samples, steps = size
    needed = max(MIN_STEP_SAMPLES, math.ceil(scoring.plan.positions / steps))
    cut = session.take(raw, needed) if needed < samples else None
    return raw if cut is None else cut


def scoring_plan(session: Session) -> ScoringPlan | None:
    """The output layer, the axis and the positions to score, or None where every position is scored."""
    if not isinstance(session.loss_fn, (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)):
        return None
    if getattr(session.train_step_fn, "computes_own_loss", False):
        return None
    linears = [m.weight.numel() for m in session.model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears or not wide_head(session.loss_fn, max(linears), session.dense_parameters()):
        return None  # no layer could be the wide output layer: decided without running the model
    layout = session.layout()
    if layout is None:
        return None
    raw = within_step_budget(session, session.sample("train").batches[0])
    model = session.model
    model.eval()
    full: list[Forward] = []
    try:
        found = candidate_head(model, lambda: full.append(session.forward(raw)))
    except UserCodeError:
        return None
    if found is None or not full:
        return None
    name, head, shape = found
    steps = layout.resized(full[0].model_input).steps
    axis = layout_axis(layout.kind, shape, steps)
    positions = math.prod(shape[:-1])
    if (
        axis is None
        or not wide_head(session.loss_fn, head.weight.numel(), session.dense_parameters())
        or positions <= 2 * session.scored_positions
    ):
        return None
    plan = ScoringPlan(head, name, axis, session.scored_positions, positions, int(head.out_features))
    if not _same_loss(session, plan, raw, full[0]):
        return None
    if session.train_step_fn is not None and not _step_reads_subset(session, plan, raw):
        return None
    return plan


def _same_loss(session: Session, plan: ScoringPlan, raw: Any, full: Forward) -> bool:
    """The subset's loss equals the mean of the full outputs' per-position losses at the same positions."""
    if not isinstance(full.targets, torch.Tensor):
        return False
    subset = PositionSubset(plan, session.model, session.seed)
    session.scoring = subset
    try:
        losses, weights = per_position_loss(session.loss_fn, full.outputs, full.targets)
        part = session.forward(raw)
        if plan.disabled or subset.selection is None:
            return False
        prefix, index = subset.selection
        chosen = [_at(values, prefix, plan.axis, index) for values in (losses, weights)]
        if chosen[0] is None or chosen[1] is None or float(chosen[1].sum()) <= 0:
            return False
        expected = float(chosen[0].sum() / chosen[1].sum())
        actual = float(session.loss(part.outputs, part.targets).detach().double())
    except (UserCodeError, ScoringMismatch, RuntimeError, ValueError, TypeError, IndexError):
        return False
    finally:
        subset.remove()
        session.scoring = None
    return agrees(actual, expected)


def _at(values: torch.Tensor, prefix: tuple[int, ...], axis: int, index: torch.Tensor) -> torch.Tensor | None:
    """Per-position values (shaped like the targets) at the scored positions."""
    if tuple(values.shape) == prefix:
        return values.index_select(axis, index.to(values.device))
    if values.dim() == 1 and values.numel() == math.prod(prefix):
        return values.reshape(prefix).index_select(axis, index.to(values.device)).reshape(-1)
    return None


def _step_reads_subset(session: Session, plan: ScoringPlan, raw: Any) -> bool:
    """The user's ``train_step`` hands the loss function it is given the model's outputs as they are, so
    the targets can be read at the same positions (one step, undone by the fact's restore)."""
    subset = PositionSubset(plan, session.model, session.seed)
    session.scoring = subset
    try:
        session.model.train()
        step = user_step(session, raw)
    except (UserCodeError, ScoringMismatch):
        return False
    finally:
        subset.remove()
        session.scoring = None
    return not plan.disabled and math.isfinite(step.loss) and step.targets is not None and subset.selected > 0

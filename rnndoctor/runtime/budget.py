"""What a training step costs, in multiply-adds, and the two budgets that bound it.

``max_step_work`` bounds one step: a batch whose step would cost more is cut to its first samples.
``max_check_work`` bounds a check: its loops take no more steps than the work left affords
(`rnndoctor.runtime.work`). A step's work is every dense weight once per position (embedding tables are
looked up, not multiplied), the output layer only at the positions scored while a subset is
(`rnndoctor.runtime.scoring`). Both depend on the model and the data alone, never on the machine's speed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from rnndoctor.runtime.batches import BatchFormatError
from rnndoctor.runtime.layout import SINGLE
from rnndoctor.runtime.work import TRAINING_STEP

if TYPE_CHECKING:
    from rnndoctor.runtime.session import Session

MIN_STEP_SAMPLES = 2
"""A batch cut to the step budget keeps at least two samples (one sample has no batch statistics)."""


def sized(session: Session, raw: Any) -> tuple[int, int] | None:
    """(samples, time steps) of a raw batch read with the run's layout, or None when it cannot be read."""
    try:
        inputs = session.unpack(raw).inputs
    except BatchFormatError:
        return None
    layout = session.raw_layout()
    if not isinstance(inputs, torch.Tensor) or layout is None or layout.kind == SINGLE:
        return None
    resized = layout.resized(inputs)
    return resized.samples, max(1, resized.steps or 1)


def step_work(session: Session, samples: int, steps: int) -> float:
    """Multiply-adds of one forward pass over ``samples`` sequences of ``steps`` steps."""
    dense = session.dense_parameters()
    scoring = session.scoring
    if scoring is None or scoring.disabled:
        return float(dense * steps * samples)
    head = scoring.plan.head.weight.numel()
    return float((dense - head) * steps * samples + head * scoring.scored(samples, steps))


def within_step_budget(session: Session, raw: Any) -> Any:
    """The whole batch, or its first samples (at least two) when a step on all of them would cost more than
    ``max_step_work``. A wide model then costs a check seconds rather than hours."""
    size = sized(session, raw) if session.max_step_work else None
    if size is None:
        return raw
    samples, steps = size
    if step_work(session, samples, steps) <= (session.max_step_work or math.inf):
        return raw
    allowed = _samples_within_budget(session, samples, steps)
    if samples <= allowed:
        return raw
    cut = session.take(raw, allowed)
    if cut is None:
        return raw
    per_sample = session.dense_parameters() * steps
    session.step_cut = {"batch_samples": samples, "used_samples": allowed, "work_per_sample": per_sample}
    return cut


def _samples_within_budget(session: Session, samples: int, steps: int) -> int:
    """The most samples (at least two) whose step stays within ``max_step_work``. Not a bisection: with a
    subset of the positions scored, one sample more can cost less (it needs fewer scored steps)."""
    budget = session.max_step_work or math.inf
    key = (samples, steps, session.scoring is not None and not session.scoring.disabled)
    if key not in session.budget_cuts:
        fits = (n for n in range(samples, MIN_STEP_SAMPLES - 1, -1) if step_work(session, n, steps) <= budget)
        session.budget_cuts[key] = next(fits, MIN_STEP_SAMPLES)
    return session.budget_cuts[key]


def forward_work(session: Session, raw: Any) -> float:
    """Multiply-adds of one forward pass over ``raw`` as a check runs it (cut to the step budget); 0 when
    the batch cannot be read."""
    batch = within_step_budget(session, raw)
    size = sized(session, batch)
    return step_work(session, *size) if size is not None else 0.0


def training_work(session: Session, raw: Any) -> float:
    """Multiply-adds of one training step on ``raw``."""
    return TRAINING_STEP * forward_work(session, raw)


def affordable(session: Session, loop: str, steps: int, step_work: float, minimum: int) -> int:
    """The steps of a loop whose steps cost ``step_work`` each that the running check's budget still pays for."""
    return session.work.affordable(loop, steps, step_work, minimum)

"""Training dynamics (RD501-RD506): a learning-rate range test and overfitting one batch.

Both train the user's model with the user's optimizer on sampled batches; the engine puts weights,
optimizer state and RNGs back afterwards. Both stop as soon as the verdict is clear: the sweep when the
loss diverges, the fit when the batch is fitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.core.errors import SkipCheck
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.dynamics import BlindFit, FitResult, OverfitRuns
from rnndoctor.render.plots import plot
from rnndoctor.runtime import lr_heuristics
from rnndoctor.runtime.batches import BatchFormatError, replace_part
from rnndoctor.runtime.budget import affordable, training_work
from rnndoctor.runtime.facts import fact
from rnndoctor.runtime.layout import padding_id, primary_tensor
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.state import ModelState
from rnndoctor.runtime.stepping import LearningRate, batch_accuracy, exploded, rate_response, train_on
from rnndoctor.runtime.subsets import scored_positions
from rnndoctor.runtime.sweep import SweepOutcome, closure_steps, learning_rate_sweep


@register
class LrSweepCheck(Check):
    name = "lr_sweep"
    work_option = "steps"
    cost = 8
    quick = False
    description = "learning-rate range test with the configured optimizer"
    supersedes = ("RD405",)
    options = (
        Option(
            "min_lr",
            1e-07,
            "smallest learning rate tried",
        ),
        Option(
            "max_lr",
            10.0,
            "largest learning rate tried (the sweep stops earlier when the loss diverges)",
        ),
        Option(
            "steps",
            100,
            "optimizer steps in the sweep, one learning rate each",
            meaning=(
                "Optimizer steps in the sweep, one learning rate each. LBFGS evaluates its closure up to `max_iter` "
                "times per step, so its sweep takes about four plain steps' passes per step: 4 x steps / max_iter "
                "steps (at least warmup_steps + 10)."
            ),
        ),
        Option(
            "divergence",
            4.0,
            "stop once the smoothed loss exceeds this many times its lowest value",
        ),
        Option(
            "smoothing",
            0.9,
            "weight of the running average the sweep's loss is smoothed with",
            meaning=(
                "Weight of the past in the exponential running average of the sweep's loss (bias-corrected); the "
                "divergence test and the suggestion read the smoothed curve."
            ),
        ),
        Option(
            "warmup_steps",
            10,
            "no divergence is called before this many sweep steps",
            meaning="The sweep does not stop for divergence before this many steps: the smoothed loss needs them.",
        ),
        Option(
            "refine_decades",
            3.0,
            "width of the second sweep run when the first shows no clear fall",
            meaning=(
                "When the range test gives no suggestion, a second one with as many steps runs over this many "
                "decades: below the rate where the loss blew up, or beyond the end of the first sweep if it never "
                "did, so that a suggestion is found where the first curve was too coarse or too short."
            ),
        ),
        Option(
            "beyond_configured",
            3.0,
            "the sweep reaches at least this many times the configured rate",
            meaning=(
                "However high the configured rate, the sweep goes at least this factor beyond it (keeping its steps "
                "per decade), so that it can tell whether that rate diverges."
            ),
            guards=("RD502",),
        ),
    )

    def baseline_metrics(self, ctx: CheckContext) -> dict[str, Any]:
        return {"suggested_lr": None, "configured_lr": LearningRate(ctx.session.optimizer).configured}

    def run(self, ctx: CheckContext) -> Outcome:
        outcome = fact(ctx.session, learning_rate_sweep)
        if outcome is None:
            raise SkipCheck("lr_sweep is switched off")
        if outcome.skipped:
            raise SkipCheck(outcome.skipped)
        sweep = outcome.sweep
        assert sweep is not None
        ctx.publish(sweep)
        min_lr = float(ctx.options["min_lr"])
        lr_min = sweep.lowest[0]
        metrics: dict[str, Any] = {
            "suggested_lr": outcome.reported_lr,
            "configured_lr": sweep.configured_lr,
            "lowest_loss_lr": lr_min,
            "diverged_at": sweep.diverged_at,
            "steps": len(sweep.lrs),
            "plots": [
                plot(
                    "learning-rate range test",
                    sweep.lrs,
                    sweep.smoothed,
                    x_label="learning rate",
                    y_label="smoothed loss",
                    log_x=True,
                    marks={"configured": sweep.configured_lr, "suggested": sweep.suggested_lr}
                    if sweep.suggested_lr
                    else {"configured": sweep.configured_lr},
                )
            ],
        }
        refined = outcome.refined
        if refined is not None:
            metrics["refined_range"] = [refined.lrs[0], refined.lrs[-1]]
            metrics["plots"].append(
                plot(
                    "second range test (the first showed no clear fall)",
                    refined.lrs,
                    refined.smoothed,
                    x_label="learning rate",
                    y_label="smoothed loss",
                    log_x=True,
                    # The same marks as the first plot's, and where the first sweep diverged.
                    marks={
                        "configured": sweep.configured_lr,
                        **({"first sweep diverged": sweep.diverged_at} if sweep.diverged_at else {}),
                        **({"suggested": refined.suggested_lr} if refined.suggested_lr else {}),
                    },
                )
            )
        suggested = f"{outcome.reported_lr:.2g}" if outcome.reported_lr is not None else "none"
        stop = f", stopped at divergence ({sweep.diverged_at:.2g})" if sweep.diverged_at else ""
        second = (
            f"; a second sweep from {refined.lrs[0]:.2g} to {refined.lrs[-1]:.2g} found no clear fall either"
            if refined is not None and outcome.reported_lr is None
            else f"; suggested from a second sweep ({refined.lrs[0]:.2g} to {refined.lrs[-1]:.2g})"
            if refined is not None
            else ""
        )
        return Outcome(
            f"{len(sweep.lrs)} steps from {min_lr:g} to {sweep.lrs[-1]:.2g}{stop}{second}; suggested {suggested}, "
            f"configured {sweep.configured_lr:.2g}",
            metrics,
        )


# ---------------------------------------------------------------------------------------------
# overfit one batch: RD503 RD504 RD505 RD506
# ---------------------------------------------------------------------------------------------


MIN_FIT_STEPS = 20
"""Steps a one-batch fit keeps when the check's work budget would allow fewer."""

SETTLED_STEPS = 5
"""A fit whose loss has stayed below its start by ``learned_share`` for this many steps in a row has learned:
with the outputs reading the input, no verdict of the one-batch fit can change by training on (see `settled`)."""


def fit_batch(
    session: Session, raw: Any, lr: float, steps: int, tolerance: float, learned_share: float | None = None
) -> FitResult:
    """Train on one batch until it is fitted (100% accuracy, or the loss down to ``tolerance`` of its start);
    with ``learned_share``, also once the loss has stayed that share below its start for `SETTLED_STEPS`
    steps. A loss that blows up (non-finite, a million times its start) ends the run at once."""
    session.model.train()
    LearningRate(session.optimizer).set(lr)
    losses: list[float] = []
    state = _FitState()
    with scored_positions(session):
        steps = affordable(session, "one-batch fit", steps, training_work(session, raw), MIN_FIT_STEPS)
        with session.work.phase(steps):
            _fit_steps(session, raw, steps, tolerance, learned_share, losses, state)
    fitted, learned, (accuracy, predicted, present) = state.fitted, state.learned, state.accuracy
    return FitResult(
        lr=lr,
        initial_loss=losses[0] if losses else math.nan,
        final_loss=losses[-1] if losses else math.nan,
        steps=len(losses),
        fitted=fitted,
        accuracy=accuracy,
        predicted_classes=predicted,
        target_classes=present,
        losses=losses,
        learned_early=learned,
    )


@dataclass
class _FitState:
    fitted: bool = False
    learned: bool = False
    accuracy: tuple[float | None, int | None, int | None] = (None, None, None)


def _fit_steps(
    session: Session,
    raw: Any,
    steps: int,
    tolerance: float,
    learned_share: float | None,
    losses: list[float],
    state: _FitState,
) -> None:
    for _ in range(steps):
        step = train_on(session, raw)
        loss = step.loss
        losses.append(loss)
        if exploded(losses):
            break
        state.accuracy = batch_accuracy(session, step.outputs, step.targets)
        accuracy = state.accuracy[0]
        if (accuracy is not None and accuracy >= 1.0) or losses[0] - loss >= (1 - tolerance) * abs(losses[0]):
            state.fitted = True
            break
        if learned_share is not None and held_below(losses, learned_share, SETTLED_STEPS):
            state.learned = True
            break


def held_below(losses: list[float], share: float, steps: int) -> bool:
    """The last ``steps`` losses all fell by at least ``share`` of the first loss's magnitude."""
    if len(losses) <= steps or not math.isfinite(losses[0]):
        return False
    scale = max(abs(losses[0]), 1e-12)
    return all(math.isfinite(v) and (losses[0] - v) / scale >= share for v in losses[-steps:])


def settled(run: FitResult, options: dict[str, Any], reads_input: bool) -> bool:
    """Whether the configured fit already decides every verdict of the check, so that neither a retry at
    another rate nor a fit with zeroed inputs can change one: fitted; or learning (RD503 and RD504 need a
    run that does not learn), moving (RD505) and with outputs that read the input (RD506 needs outputs
    that barely move when the input is zeroed)."""
    if run.fitted:
        return True
    moving = run.moved > float(options["still_tolerance"])
    return reads_input and moving and run.learns(float(options["learned_share"]))


def retry_rate(sweep: SweepOutcome | None, configured: FitResult) -> float | None:
    """A second learning rate to try when the configured one does not fit the batch: the sweep's
    suggestion, else a third of the rate with the sweep's lowest loss, else ten times the configured rate
    (a tenth when the configured rate made the loss rise or blow up)."""
    suggested = sweep.suggested_lr if sweep is not None else None
    lowest = sweep.lowest_loss_lr if sweep is not None else None
    configured_lr = configured.lr
    candidate: float | None
    if isinstance(suggested, float):
        candidate = suggested
    elif isinstance(lowest, float):
        candidate = lowest / 3
    elif configured_lr <= 0:
        candidate = None
    elif not math.isfinite(configured.final_loss) or configured.final_loss > configured.initial_loss:
        candidate = configured_lr / 10
    else:
        candidate = configured_lr * 10
    if candidate is None or lr_heuristics.decades(candidate, configured_lr) < 0.5:
        return None
    return candidate


def input_sensitivity(session: Session, raw: Any, blind: Any) -> float | None:
    """How much the outputs move when the inputs are zeroed, against how much they differ between samples
    (eval mode, the weights as configured): about 0 for a model whose outputs do not read the input."""
    was_training = session.model.training
    session.model.eval()
    try:
        real, zero = session.forward(raw).outputs, session.forward(blind).outputs
    finally:
        session.model.train(was_training)
    real, zero = primary_tensor(real), primary_tensor(zero)
    if real is None or zero is None or real.shape != zero.shape or real.dim() == 0:
        return None
    real, zero = real.detach().double(), zero.detach().double()
    spread = float((real - real.mean(dim=0, keepdim=True)).norm()) or float(real.norm()) or 1.0
    return float((real - zero).norm()) / spread


def zeroed_inputs(session: Session, raw: Any) -> Any | None:
    """The batch with every input replaced by zeros (the padding id for token ids), lengths kept."""
    try:
        batch = session.unpack(raw)
    except BatchFormatError:
        return None
    inputs = batch.inputs
    if not isinstance(inputs, torch.Tensor):
        return None
    fill = 0 if inputs.is_floating_point() else (padding_id(session.model) or 0)
    return replace_part(batch, 0, torch.full_like(inputs, fill))


@register
class OverfitBatchCheck(Check):
    name = "overfit_batch"
    work_option = "steps"
    cost = 9
    quick = False
    description = "can the model memorize one batch, and does it need its inputs to?"
    options = (
        Option(
            "steps",
            200,
            "most optimizer steps on one fixed batch (stops as soon as it is fitted)",
            meaning=(
                "Most optimizer steps on the batch. LBFGS, which evaluates its closure up to `max_iter` times a step, "
                "takes steps / max_iter steps (at least 5): closure evaluations count against the budget."
            ),
            guards=("RD503",),
        ),
        Option(
            "samples",
            8,
            "samples taken from the first batch to fit",
            meaning="Samples taken from the first batch.",
            guards=("RD503",),
        ),
        Option(
            "learned_share",
            0.5,
            "RD503: a run whose loss falls by this share of its start (or still falls at the end) is learning",
            meaning=(
                "A run whose loss falls by this share of its start, or is still falling when its steps run out, is "
                "learning, not failing."
            ),
            guards=("RD503",),
        ),
        Option(
            "loss_tolerance",
            0.01,
            "RD503: fitted = 100% batch accuracy, or loss below this share of its start",
            meaning="Fitted: 100% batch accuracy, or the loss below this share of its start.",
            guards=("RD503",),
        ),
    )

    def baseline_metrics(self, ctx: CheckContext) -> dict[str, Any]:
        return {"initial_loss": None, "final_loss": None, "steps": 0}

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        steps, tolerance = closure_steps(session, int(options["steps"])), float(options["loss_tolerance"])
        first = session.sample("train").batches[0]
        raw = session.take(first, int(options["samples"])) or first
        start = ModelState(session.model, session.optimizer)
        response = rate_response(session)
        configured_lr = LearningRate(session.optimizer).configured
        # How much the untrained outputs read the input decides whether a fit with zeroed inputs could
        # matter (RD506); measured first, so that a fit that has learned can stop there.
        blind_batch = zeroed_inputs(session, raw)
        sensitivity = input_sensitivity(session, raw, blind_batch) if blind_batch is not None else None
        reads_input = sensitivity is not None and sensitivity > float(options["input_sensitivity"])
        learned_share = float(options["learned_share"]) if reads_input else None
        configured = fit_batch(session, raw, configured_lr, steps, tolerance, learned_share)
        done = settled(configured, options, reads_input)
        retry = None
        best = configured
        # The sweep (a shared fact) is only needed when the configured rate leaves a verdict open.
        sweep = None if done else fact(session, learning_rate_sweep)
        alternative = retry_rate(sweep, configured) if response is None or response.follows_rate else None
        if not done and alternative is not None:
            start.restore()
            retry = fit_batch(session, raw, alternative, steps, tolerance)
            best = retry if retry.final_loss < configured.final_loss else configured
        ctx.publish(OverfitRuns(configured, retry))
        metrics: dict[str, Any] = {
            "initial_loss": configured.initial_loss,
            "final_loss": configured.final_loss,
            "steps": configured.steps,
            "fitted": configured.fitted,
            "accuracy": configured.accuracy,
            "retry_lr": retry.lr if retry else None,
            "retry_fitted": retry.fitted if retry else None,
            "input_sensitivity": sensitivity,
        }
        if not best.fitted and blind_batch is not None and not reads_input:
            start.restore()
            blind = fit_batch(session, blind_batch, best.lr, best.steps, tolerance)
            metrics.update(zero_input_final_loss=blind.final_loss)
            ctx.publish(BlindFit(best, blind, sensitivity))
        metrics["plots"] = [
            plot(
                "overfitting one batch",
                list(range(1, len(configured.losses) + 1)),
                configured.losses,
                x_label="step",
                y_label="loss",
                log_y=all(v > 0 for v in configured.losses if math.isfinite(v)),
            )
        ]
        verdict = (
            "fitted"
            if configured.fitted
            else "learning (loss held half below its start; stopped there)"
            if configured.learned_early
            else "not fitted"
        )
        return Outcome(
            f"{verdict} in {configured.steps} steps at lr={configured_lr:.2g}: loss {configured.initial_loss:.4g} -> "
            f"{configured.final_loss:.4g}",
            metrics,
        )

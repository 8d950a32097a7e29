"""Training dynamics (RD501-RD506): a learning-rate range test and overfitting one batch.

Both train the user's model with the user's optimizer on sampled batches; the engine puts weights,
optimizer state and RNGs back afterwards. Both stop as soon as the verdict is clear: the sweep when the
loss diverges, the fit when the batch is fitted.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from rnndoctor import lr_rules
from rnndoctor.batches import replace_inputs, slice_batch, unpack
from rnndoctor.checks import judge_dynamics as judge
from rnndoctor.checks.data import padding_id
from rnndoctor.registry import Check, CheckContext, Outcome, SkipCheck, register
from rnndoctor.render.plots import plot
from rnndoctor.session import Session
from rnndoctor.state import ModelState
from rnndoctor.task import Task, infer_task, loss_family, loss_ignore_index

SMOOTHING = 0.9
"""Weight of the running average of the sweep's loss (with bias correction, as `lr_rules.smooth`)."""
WARMUP_STEPS = 10
"""The sweep does not call divergence before this many steps: the smoothed loss needs them to settle."""


class LearningRate:
    """Sets the optimizer's learning rate, keeping the ratios between its parameter groups."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.base = [float(group["lr"]) for group in optimizer.param_groups]

    @property
    def configured(self) -> float:
        return self.base[0]

    def set(self, lr: float) -> None:
        reference = self.base[0] or 1.0
        for group, base in zip(self.optimizer.param_groups, self.base, strict=True):
            group["lr"] = lr * (base / reference if self.base[0] else 1.0)


def training_step(session: Session, raw: Any) -> tuple[float, Any, Any]:
    """One step with the user's loss and optimizer; returns the loss and the step's outputs/targets.

    The step goes through a closure, which every torch optimizer accepts and LBFGS requires.
    """
    first: list[Any] = []

    def closure() -> torch.Tensor:
        session.optimizer.zero_grad(set_to_none=True)
        forward = session.forward(raw, grad=True)
        loss = session.scalar_loss(forward.outputs, forward.targets)
        if not first:
            first.append((float(loss.detach()), forward.outputs, forward.targets))
        if math.isfinite(float(loss.detach())) and loss.requires_grad:
            session.backward(loss)
        return loss

    loss = closure()
    value, outputs, targets = first[0]
    if math.isfinite(value) and loss.requires_grad:
        first_closure_done = [False]

        def again() -> torch.Tensor:
            if not first_closure_done[0]:
                first_closure_done[0] = True
                return loss
            return closure()

        session.optimizer.step(again)  # type: ignore[arg-type]
    return value, outputs, targets


def probe_loss(session: Session, raw: Any) -> float:
    """The loss on a fixed batch without a training step: the sweep's yardstick. Reading the loss of the
    batch just trained on instead would mix each batch's own difficulty into the curve."""
    was_training = session.model.training
    session.model.eval()
    try:
        result = session.forward(raw)
        return float(session.loss(result.outputs, result.targets).detach().double().mean())
    finally:
        session.model.train(was_training)


def range_test(session: Session, min_lr: float, max_lr: float, steps: int, divergence: float) -> judge.Sweep:
    session.model.train()
    rate = LearningRate(session.optimizer)
    sample = session.sample("train").batches
    yardstick = sample[-1]
    batches = sample[:-1] or sample
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    best = math.inf
    diverged = None
    average = 0.0
    for step in range(steps):
        lr = min_lr * (max_lr / min_lr) ** (step / max(steps - 1, 1))
        rate.set(lr)
        training_step(session, batches[step % len(batches)])
        loss = probe_loss(session, yardstick)
        lrs.append(lr)
        losses.append(loss)
        if not math.isfinite(loss):
            diverged = lr
            smoothed.append(math.inf)
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        smoothed.append(average / (1 - SMOOTHING ** len(losses)))
        best = min(best, smoothed[-1])
        if step >= WARMUP_STEPS and smoothed[-1] > divergence * best:
            diverged = lr
            break
    finite = [s for s in smoothed if math.isfinite(s)]
    suggestion = lr_rules.suggest(lrs[: len(finite)], finite)
    return judge.Sweep(lrs, losses, smoothed, rate.configured, suggestion, type(session.optimizer).__name__, diverged)


@register
class LrSweepCheck(Check):
    name = "lr_sweep"
    codes = ("RD501", "RD502")
    cost = 8
    quick = False
    description = "learning-rate range test with the configured optimizer"
    supersedes = ("RD405",)

    def baseline_metrics(self, ctx: CheckContext) -> dict[str, Any]:
        return {"suggested_lr": None, "configured_lr": LearningRate(ctx.session.optimizer).configured}

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        min_lr, max_lr, steps = float(options["min_lr"]), float(options["max_lr"]), int(options["steps"])
        if not 0 < min_lr < max_lr or steps < WARMUP_STEPS + 2:
            raise SkipCheck(f"needs 0 < min_lr < max_lr and at least {WARMUP_STEPS + 2} steps")
        sweep = range_test(session, min_lr, max_lr, steps, float(options["divergence"]))
        session.notes["suggested_lr"] = sweep.suggested_lr
        learned = sweep.shows_learning(lr_rules.MIN_RELATIVE_DROP) and math.isfinite(sweep.lowest[0])
        session.notes["lowest_loss_lr"] = sweep.lowest[0] if learned else None
        findings = judge.judge_learning_rate(
            sweep,
            float(options["too_low_factor"]),
            float(options["onset_fraction"]),
            float(options["too_high_factor"]),
            lr_rules.MIN_RELATIVE_DROP,
        )
        session.notes["lr_verdict"] = findings[0].code if findings else None
        ctx.findings.extend(findings)
        lr_min = sweep.lowest[0]
        metrics = {
            "suggested_lr": sweep.suggested_lr,
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
        suggested = f"{sweep.suggested_lr:.2g}" if sweep.suggested_lr is not None else "none"
        stop = f", stopped at divergence ({sweep.diverged_at:.2g})" if sweep.diverged_at else ""
        return Outcome(
            f"{len(sweep.lrs)} steps from {min_lr:g} to {sweep.lrs[-1]:.2g}{stop}; suggested {suggested}, "
            f"configured {sweep.configured_lr:.2g}",
            metrics,
        )


# ---------------------------------------------------------------------------------------------
# overfit one batch: RD503 RD504 RD505 RD506
# ---------------------------------------------------------------------------------------------


def task_for(session: Session, outputs: Any, targets: Any) -> Task:
    cached = session.notes.get("task")
    if isinstance(cached, Task):
        return cached
    return infer_task(session.loss_name, targets, outputs, None, loss_ignore_index(session.loss_fn))


def batch_accuracy(session: Session, outputs: Any, targets: Any) -> tuple[float | None, int | None, int | None]:
    """Accuracy on the batch, and how many distinct classes are predicted and present (classification)."""
    if not isinstance(outputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        return None, None, None
    family = loss_family(session.loss_name)
    out, tgt = outputs.detach(), targets.detach()
    if family == "index" and out.dim() == tgt.dim() + 1:
        predicted = out.argmax(dim=1)
        ignore = loss_ignore_index(session.loss_fn)
        valid = tgt != ignore if ignore is not None else torch.ones_like(tgt, dtype=torch.bool)
        if not bool(valid.any()):
            return None, None, None
        p, t = predicted[valid], tgt[valid].long()
    elif family == "binary" and out.shape == tgt.shape:
        threshold = 0.0 if session.loss_name == "BCEWithLogitsLoss" else 0.5
        p, t = (out > threshold).long(), (tgt > 0.5).long()
    else:
        return None, None, None
    accuracy = float((p == t).double().mean())
    return accuracy, int(torch.unique(p).numel()), int(torch.unique(t).numel())


def fit_batch(session: Session, raw: Any, lr: float, steps: int, tolerance: float) -> judge.FitResult:
    """Train on one batch until it is fitted (100% accuracy, or the loss down to ``tolerance`` of its start)."""
    session.model.train()
    LearningRate(session.optimizer).set(lr)
    losses: list[float] = []
    accuracy = predicted = present = None
    fitted = False
    for _ in range(steps):
        loss, outputs, targets = training_step(session, raw)
        losses.append(loss)
        if not math.isfinite(loss):
            break
        accuracy, predicted, present = batch_accuracy(session, outputs, targets)
        if (accuracy is not None and accuracy >= 1.0) or loss <= tolerance * max(abs(losses[0]), 1e-12):
            fitted = True
            break
    return judge.FitResult(
        lr=lr,
        initial_loss=losses[0] if losses else math.nan,
        final_loss=losses[-1] if losses else math.nan,
        steps=len(losses),
        fitted=fitted,
        accuracy=accuracy,
        predicted_classes=predicted,
        target_classes=present,
        losses=losses,
    )


def retry_rate(session: Session, configured_lr: float) -> float | None:
    """A second learning rate to try when the configured one does not fit the batch: the sweep's
    suggestion, else a third of the rate with the sweep's lowest loss, else ten times the configured."""
    suggested = session.notes.get("suggested_lr")
    lowest = session.notes.get("lowest_loss_lr")
    candidate: float | None
    if isinstance(suggested, float):
        candidate = suggested
    elif isinstance(lowest, float):
        candidate = lowest / 3
    else:
        candidate = configured_lr * 10 if configured_lr > 0 else None
    if candidate is None or lr_rules.decades(candidate, configured_lr) < 0.5:
        return None
    return candidate


def zeroed_inputs(session: Session, raw: Any) -> Any | None:
    """The batch with every input replaced by zeros (the padding id for token ids), lengths kept."""
    if session.forward_fn is not None:
        return None
    inputs = unpack(raw).inputs
    if not isinstance(inputs, torch.Tensor):
        return None
    fill = 0 if inputs.is_floating_point() else (padding_id(session.model) or 0)
    return replace_inputs(raw, torch.full_like(inputs, fill))


@register
class OverfitBatchCheck(Check):
    name = "overfit_batch"
    codes = ("RD503", "RD504", "RD505", "RD506")
    cost = 9
    quick = False
    description = "can the model memorize one batch, and does it need its inputs to?"

    def baseline_metrics(self, ctx: CheckContext) -> dict[str, Any]:
        return {"initial_loss": None, "final_loss": None, "steps": 0}

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        steps, tolerance = int(options["steps"]), float(options["loss_tolerance"])
        first = session.sample("train").batches[0]
        raw = slice_batch(first, int(options["samples"])) or first
        start = ModelState(session.model, session.optimizer)
        configured_lr = LearningRate(session.optimizer).configured
        configured = fit_batch(session, raw, configured_lr, steps, tolerance)
        retry = None
        best = configured
        alternative = retry_rate(session, configured_lr)
        if not configured.fitted and alternative is not None:
            start.restore()
            retry = fit_batch(session, raw, alternative, steps, tolerance)
            best = retry if retry.final_loss < configured.final_loss else configured
        lr_verdict = session.notes.get("lr_verdict")
        ctx.findings.extend(
            judge.judge_overfit(
                configured, retry, float(options["still_tolerance"]), lr_verdict, float(options["learned_share"])
            )
        )
        metrics: dict[str, Any] = {
            "initial_loss": configured.initial_loss,
            "final_loss": configured.final_loss,
            "steps": configured.steps,
            "fitted": configured.fitted,
            "accuracy": configured.accuracy,
            "retry_lr": retry.lr if retry else None,
            "retry_fitted": retry.fitted if retry else None,
        }
        if not best.fitted:
            blind_batch = zeroed_inputs(session, raw)
            if blind_batch is not None:
                start.restore()
                blind = fit_batch(session, blind_batch, best.lr, best.steps, tolerance)
                metrics["zero_input_final_loss"] = blind.final_loss
                ctx.findings.extend(judge.judge_input_ignored(best, blind, float(options["input_gain_tolerance"])))
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
        verdict = "fitted" if configured.fitted else "not fitted"
        return Outcome(
            f"{verdict} in {configured.steps} steps at lr={configured_lr:.2g}: loss {configured.initial_loss:.4g} -> "
            f"{configured.final_loss:.4g}",
            metrics,
        )

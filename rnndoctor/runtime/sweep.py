"""The learning-rate range test: train with the user's optimizer at exponentially growing rates, read the
loss on a fixed yardstick batch after every step, stop once it diverges. A shared fact: the sweep check
publishes it for the learning-rate rules to judge, the one-batch fit and the short run retry at its
suggestion, whichever runs first measures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.measurements.dynamics import Sweep
from rnndoctor.runtime import lr_heuristics
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.state import ModelState, RngState
from rnndoctor.runtime.stepping import LearningRate, rate_response, train_on, yardstick_loss
from rnndoctor.setup.config import load_defaults


def diverged_from(smoothed: list[float], best: float, divergence: float) -> bool:
    """The smoothed loss has risen ``divergence`` times its best value; for losses that reach zero or go
    negative (Gaussian NLL), ``divergence - 1`` times the fall from the start to the best above the best."""
    scale = best if best > 0 else smoothed[0] - best
    return scale > 0 and smoothed[-1] - best > (divergence - 1) * scale


def rate_control_problem(session: Session) -> str | None:
    """Why the learning rate cannot be varied (a train_step whose update does not follow the optimizer's
    rate), or None when it can."""
    response = rate_response(session)
    if response is None or response.follows_rate:
        return None
    how = (
        "updates the weights itself without optimizer.step()"
        if not response.calls_optimizer_step
        else "sets its own learning rate (a scheduler inside the step?)"
    )
    return (
        f"the train_step {how}: its update is the same at the configured rate and at half of it, so "
        "rnndoctor cannot vary the rate; read the rate from optimizer.param_groups[0]['lr'] or call "
        "optimizer.step()"
    )


def range_test(
    session: Session,
    min_lr: float,
    max_lr: float,
    steps: int,
    divergence: float,
    smoothing: float = 0.9,
    warmup_steps: int = 10,
) -> Sweep:
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
        with session.carrying_state():
            train_on(session, batches[step % len(batches)])
        loss = yardstick_loss(session, yardstick)
        lrs.append(lr)
        losses.append(loss)
        if not math.isfinite(loss):
            diverged = lr
            smoothed.append(math.inf)
            break
        average = smoothing * average + (1 - smoothing) * loss
        smoothed.append(average / (1 - smoothing ** len(losses)))
        best = min(best, smoothed[-1])
        if step >= warmup_steps and diverged_from(smoothed, best, divergence):
            diverged = lr
            break
    finite = [s for s in smoothed if math.isfinite(s)]
    suggestion = lr_heuristics.suggest(lrs[: len(finite)], finite)
    return Sweep(lrs, losses, smoothed, rate.configured, suggestion, type(session.optimizer).__name__, diverged)


@dataclass
class SweepOutcome:
    sweep: Sweep | None = None
    skipped: str | None = None
    """Why no sweep could run (the train_step sets its own rate, nonsense options)."""
    refined: Sweep | None = None
    """The second range test, run when the first showed no clear fall to suggest from."""

    @property
    def suggested_lr(self) -> float | None:
        """The first range test's suggestion: the rate the one-batch fit and the short run retry at (a
        second sweep's suggestion is not used for that: on data with nothing to learn, its curve can fall
        from an untrained start to chance level, and a retry there would hide RD503/RD507)."""
        return self.sweep.suggested_lr if self.sweep is not None else None

    @property
    def reported_lr(self) -> float | None:
        """The suggestion shown to the user: the first range test's, else the second's."""
        if self.suggested_lr is not None or self.refined is None:
            return self.suggested_lr
        return self.refined.suggested_lr

    @property
    def lowest_loss_lr(self) -> float | None:
        """The rate with the lowest loss, when the curve shows learning at all."""
        sweep = self.sweep
        if (
            sweep is None
            or not sweep.shows_learning(lr_heuristics.MIN_RELATIVE_DROP)
            or not math.isfinite(sweep.lowest[0])
        ):
            return None
        return sweep.lowest[0]


def closure_aware_steps(session: Session, steps: int, warmup: int) -> int:
    """Sweep steps for the optimizer: LBFGS evaluates its closure up to ``max_iter`` times per step, so its
    sweep takes proportionally fewer steps (the passes of about four plain steps each), never fewer than
    the warm-up and ten more."""
    evaluations = closure_evaluations(session.optimizer)
    return steps if evaluations == 1 else min(steps, max(warmup + 10, math.ceil(4 * steps / evaluations)))


def closure_evaluations(optimizer: torch.optim.Optimizer) -> int:
    """How many times a step may evaluate its closure: LBFGS's ``max_iter``, 1 for every other optimizer."""
    if not isinstance(optimizer, torch.optim.LBFGS):
        return 1
    return max(int(optimizer.defaults.get("max_iter", 20)), 1)


def refinement_window(sweep: Sweep, max_lr: float, decades: float) -> tuple[float, float]:
    """Where to look again when the range test shows no clear fall: the ``decades`` below the rate where the
    loss blew up (more steps per decade there, so slow learning shows), or, when it never blew up, the
    ``decades`` beyond the end of the sweep (the best rate lies past it, as plain SGD on a language model
    often has it); the second test stops at divergence like the first."""
    if sweep.diverged_at is not None:
        return sweep.diverged_at / 10**decades, sweep.diverged_at
    return max_lr / 10, max_lr * 10**decades


def refined_suggestion(refined: Sweep) -> float | None:
    """The rule's suggestion on the second curve; when its fall begins at once (no stretch before the
    minimum to read), a third of the rate with the lowest loss; None when that curve does not fall either."""
    if refined.suggested_lr is not None:
        return refined.suggested_lr
    if not refined.shows_learning(lr_heuristics.MIN_RELATIVE_DROP) or not math.isfinite(refined.lowest[0]):
        return None
    return refined.lowest[0] / 3


def sweep_options(session: Session) -> dict[str, Any] | None:
    """The lr_sweep check's options for this run (None when it is switched off)."""
    if "lr_sweep" in session.check_options:
        return session.check_options["lr_sweep"]
    defaults: dict[str, Any] = load_defaults()["checks"]["lr_sweep"]
    return defaults


def learning_rate_sweep(session: Session) -> SweepOutcome | None:
    """The range test, and a second one where the first shows no clear fall (a fact; None when lr_sweep is off)."""
    options = sweep_options(session)
    if options is None:
        return None
    min_lr, max_lr, steps = float(options["min_lr"]), float(options["max_lr"]), int(options["steps"])
    warmup, smoothing = int(options["warmup_steps"]), float(options["smoothing"])
    if not 0 < min_lr < max_lr or steps < warmup + 2 or not 0 <= smoothing < 1:
        return SweepOutcome(
            skipped=f"needs 0 < min_lr < max_lr, at least warmup_steps + 2 = {warmup + 2} steps and 0 <= smoothing < 1"
        )
    problem = rate_control_problem(session)
    if problem is not None:
        return SweepOutcome(skipped=problem)
    configured = LearningRate(session.optimizer).configured
    beyond = float(options["beyond_configured"])
    if configured * beyond > max_lr:
        # The sweep must reach the configured rate to say whether it diverges.
        per_decade = steps / math.log10(max_lr / min_lr)
        max_lr = configured * beyond
        steps = math.ceil(per_decade * math.log10(max_lr / min_lr))
    steps = closure_aware_steps(session, steps, warmup)
    start, rng = ModelState(session.model, session.optimizer), RngState.capture()
    sweep = range_test(session, min_lr, max_lr, steps, float(options["divergence"]), smoothing, warmup)
    refined = None
    if sweep.suggested_lr is None and len(sweep.lrs) > warmup:
        start.restore()
        rng.restore()
        low, high = refinement_window(sweep, max_lr, float(options["refine_decades"]))
        refined = range_test(session, low, high, steps, float(options["divergence"]), smoothing, warmup)
        refined.suggested_lr = refined_suggestion(refined)
    if refined is not None:
        sweep.diverged_in_refinement = refined.diverged_at
    return SweepOutcome(sweep, None, refined)

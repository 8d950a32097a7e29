"""The user's own training step (RD404, RD406): run it on a real batch and watch what it does.

The step is called twice at the same weights and on the same batch with the same random state: when it
clears gradients, the second call leaves the same gradients as the first; when it does not, twice as
much. ``optimizer.step`` and ``zero_grad`` are wrapped for the duration to record the modules' modes.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from rnndoctor.core.errors import SkipCheck
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.gradients import RateControl, StepStats
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.state import ModelState, seed_everything
from rnndoctor.runtime.stepping import rate_response, user_step

MODE_SENSITIVE = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)


def mode_sensitive_in_eval(model: nn.Module) -> list[str]:
    """Modules that behave differently in training and are in eval mode right now."""
    names = []
    for name, module in model.named_modules():
        sensitive = isinstance(module, MODE_SENSITIVE) or (
            isinstance(module, nn.RNNBase) and module.dropout > 0 and module.num_layers > 1
        )
        if sensitive and not module.training:
            names.append(name or type(module).__name__)
    return names


CLIPPERS = ("clip_grad_norm_", "clip_grad_value_", "clip_grad_norm")
"""The torch.nn.utils functions a training step clips gradients with."""


class StepRecorder:
    """Records, in order, what the user's step does: optimizer steps (through a step pre-hook, which leaves
    ``optimizer.step`` alone for schedulers that wrap it), zero_grad calls, and gradient clipping (the
    torch.nn.utils functions, wrapped for the call); plus the modules' modes and the gradient norm at each
    step, to see clipping by its effect when it was imported under another name."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        self.steps = 0
        self.eval_steps = 0
        self.eval_modules: list[str] = []
        self.zero_grad_calls = 0
        self.events: list[str] = []
        self.norm_at_last_step: float | None = None
        optimizer_zero, model_zero = optimizer.zero_grad, model.zero_grad

        def record_step(opt: Any, args: Any, kwargs: Any) -> None:
            self.steps += 1
            self.events.append("step")
            self.norm_at_last_step = gradient_norm(model)
            in_eval = mode_sensitive_in_eval(model)
            if in_eval:
                self.eval_steps += 1
                self.eval_modules = sorted(set(self.eval_modules) | set(in_eval))

        def counted(original: Any) -> Any:
            def zero_grad(*args: Any, **kwargs: Any) -> Any:
                self.zero_grad_calls += 1
                self.events.append("zero_grad")
                return original(*args, **kwargs)

            return zero_grad

        self.handle = optimizer.register_step_pre_hook(record_step)
        optimizer.zero_grad = counted(optimizer_zero)  # type: ignore[method-assign]
        model.zero_grad = counted(model_zero)  # type: ignore[method-assign]
        self.patched: list[tuple[Any, str, Any]] = []
        for owner in (torch.nn.utils, torch.nn.utils.clip_grad):
            for name in CLIPPERS:
                original = getattr(owner, name, None)
                if original is not None:
                    self.patched.append((owner, name, original))
                    setattr(owner, name, self._clipping(original))

    def _clipping(self, original: Any) -> Any:
        def clip(*args: Any, **kwargs: Any) -> Any:
            self.events.append("clip")
            return original(*args, **kwargs)

        return clip

    def remove(self) -> None:
        self.handle.remove()
        for owner in (self.optimizer, self.model):
            vars(owner).pop("zero_grad", None)
        for owner, name, original in self.patched:
            setattr(owner, name, original)
        self.patched = []

    def include_observed(self, observed: list[str]) -> None:
        """Add what a step that reports its own events saw (a script's hand-written update, which no hook
        catches): its update counts as the step."""
        if "update" in observed and "step" not in self.events:
            self.events = [("step" if event == "update" else event) for event in observed]

    def clipping_after_step(self, norm_after: float) -> bool:
        """Clipping only after the call's last optimizer step: by the call order, or by the gradients
        shrinking after that step with no zero_grad between."""
        if "step" not in self.events:
            return False
        last = len(self.events) - 1 - self.events[::-1].index("step")
        before, after = self.events[:last], self.events[last + 1 :]
        if "clip" in after and "clip" not in before:
            return True
        shrunk = self.norm_at_last_step is not None and 0 < norm_after < 0.999 * self.norm_at_last_step
        return shrunk and "zero_grad" not in after and "clip" not in before


def call_step(session: Session, raw: Any) -> None:
    seed_everything(session.seed)
    user_step(session, session.within_step_budget(raw))


def gradient_norm(model: nn.Module) -> float:
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += float(p.grad.detach().double().pow(2).sum())
    return math.sqrt(total)


def measure_step(session: Session) -> StepStats:
    model, optimizer = session.model, session.optimizer
    raw = session.sample("train").batches[0]
    model.train()
    model.zero_grad(set_to_none=True)
    before = ModelState(model, optimizer)
    recorder = StepRecorder(model, optimizer)
    try:
        call_step(session, raw)
        recorder.include_observed(list(getattr(session.train_step_fn, "observed_events", [])))
        first = gradient_norm(model)
        clipped_late = recorder.clipping_after_step(first)
        clip_calls = recorder.events.count("clip")
        cleared = first == 0.0
        growth = None
        if not cleared:
            grads = {n: None if p.grad is None else p.grad.detach().clone() for n, p in model.named_parameters()}
            before.restore()
            recorder.remove()
            recorder_steps = (recorder.steps, recorder.eval_steps, recorder.zero_grad_calls, recorder.eval_modules)
            recorder = StepRecorder(model, optimizer)
            recorder.steps, recorder.eval_steps, recorder.zero_grad_calls, recorder.eval_modules = recorder_steps
            for name, p in model.named_parameters():
                p.grad = grads[name]
            call_step(session, raw)
            growth = gradient_norm(model) / first
    finally:
        recorder.remove()
    return StepStats(
        grad_growth=growth,
        cleared_after_step=cleared,
        zero_grad_calls=recorder.zero_grad_calls,
        steps=recorder.steps,
        eval_mode_steps=recorder.eval_steps,
        eval_modules=recorder.eval_modules,
        clipping_after_step=clipped_late,
        clip_calls=clip_calls,
    )


@register
class TrainingStepCheck(Check):
    name = "training_step"
    cost = 6
    quick = True
    description = "the configured train_step: gradient accumulation, eval-mode updates, clipping order, rate"

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        if session.train_step_fn is None:
            raise SkipCheck("no train_step in the config")
        stats = measure_step(session)
        response = rate_response(session)
        ctx.publish(stats)
        if response is not None:
            ctx.publish(
                RateControl(
                    response.follows_rate,
                    response.calls_optimizer_step,
                    response.update_at_rate,
                    response.update_at_half_rate,
                    type(session.optimizer).__name__,
                )
            )
        how = f"{stats.steps} optimizer step(s)" if stats.steps else "weights updated without optimizer.step()"
        return Outcome(
            f"{how}, {stats.zero_grad_calls} zero_grad call(s)",
            {
                "grad_growth": stats.grad_growth,
                "steps": stats.steps,
                "zero_grad_calls": stats.zero_grad_calls,
                "eval_mode_steps": stats.eval_mode_steps,
                "follows_learning_rate": response.follows_rate if response is not None else None,
            },
        )

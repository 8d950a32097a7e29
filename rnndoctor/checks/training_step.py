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

from rnndoctor.checks import judge_gradients as judge
from rnndoctor.registry import Check, CheckContext, Outcome, SkipCheck, register
from rnndoctor.session import Session
from rnndoctor.state import ModelState, seed_everything
from rnndoctor.stepping import rate_response, user_step

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


class StepRecorder:
    """Counts optimizer steps (through a step pre-hook, which leaves ``optimizer.step`` itself alone for
    schedulers that wrap it) and zero_grad calls, and records the modules' modes at each step."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        self.steps = 0
        self.eval_steps = 0
        self.eval_modules: list[str] = []
        self.zero_grad_calls = 0
        optimizer_zero, model_zero = optimizer.zero_grad, model.zero_grad

        def record_step(opt: Any, args: Any, kwargs: Any) -> None:
            self.steps += 1
            in_eval = mode_sensitive_in_eval(model)
            if in_eval:
                self.eval_steps += 1
                self.eval_modules = sorted(set(self.eval_modules) | set(in_eval))

        def counted(original: Any) -> Any:
            def zero_grad(*args: Any, **kwargs: Any) -> Any:
                self.zero_grad_calls += 1
                return original(*args, **kwargs)

            return zero_grad

        self.handle = optimizer.register_step_pre_hook(record_step)
        optimizer.zero_grad = counted(optimizer_zero)  # type: ignore[method-assign]
        model.zero_grad = counted(model_zero)  # type: ignore[method-assign]

    def remove(self) -> None:
        self.handle.remove()
        for owner in (self.optimizer, self.model):
            vars(owner).pop("zero_grad", None)


def call_step(session: Session, raw: Any) -> None:
    seed_everything(session.seed)
    user_step(session, raw)


def gradient_norm(model: nn.Module) -> float:
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += float(p.grad.detach().double().pow(2).sum())
    return math.sqrt(total)


def measure_step(session: Session) -> judge.StepStats:
    model, optimizer = session.model, session.optimizer
    raw = session.sample("train").batches[0]
    model.train()
    model.zero_grad(set_to_none=True)
    before = ModelState(model, optimizer)
    recorder = StepRecorder(model, optimizer)
    try:
        call_step(session, raw)
        first = gradient_norm(model)
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
    return judge.StepStats(
        grad_growth=growth,
        cleared_after_step=cleared,
        zero_grad_calls=recorder.zero_grad_calls,
        steps=recorder.steps,
        eval_mode_steps=recorder.eval_steps,
        eval_modules=recorder.eval_modules,
    )


@register
class TrainingStepCheck(Check):
    name = "training_step"
    codes = ("RD408", "RD404", "RD406")
    cost = 6
    description = "the configured train_step: gradient accumulation and eval-mode updates"

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        if session.train_step_fn is None:
            raise SkipCheck("no train_step in the config")
        stats = measure_step(session)
        response = rate_response(session)
        ctx.findings.extend(judge.judge_accumulation(stats))
        ctx.findings.extend(judge.judge_eval_mode_steps(stats))
        if response is not None:
            ctx.findings.extend(
                judge.judge_rate_control(
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

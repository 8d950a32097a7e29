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

from rnndoctor.batches import move_batch
from rnndoctor.checks import judge_gradients as judge
from rnndoctor.registry import Check, CheckContext, Outcome, SkipCheck, register
from rnndoctor.session import Session, UserCodeError
from rnndoctor.state import ModelState, seed_everything

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
    """Wraps the optimizer's step and zero_grad (and the model's zero_grad) on the instances."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        self.steps = 0
        self.eval_steps = 0
        self.eval_modules: list[str] = []
        self.zero_grad_calls = 0
        step, optimizer_zero, model_zero = optimizer.step, optimizer.zero_grad, model.zero_grad

        def recorded_step(*args: Any, **kwargs: Any) -> Any:
            self.steps += 1
            in_eval = mode_sensitive_in_eval(model)
            if in_eval:
                self.eval_steps += 1
                self.eval_modules = sorted(set(self.eval_modules) | set(in_eval))
            return step(*args, **kwargs)

        def counted(original: Any) -> Any:
            def zero_grad(*args: Any, **kwargs: Any) -> Any:
                self.zero_grad_calls += 1
                return original(*args, **kwargs)

            return zero_grad

        optimizer.step = recorded_step  # type: ignore[method-assign]
        optimizer.zero_grad = counted(optimizer_zero)  # type: ignore[method-assign]
        model.zero_grad = counted(model_zero)  # type: ignore[method-assign]

    def remove(self) -> None:
        for owner in (self.optimizer, self.model):
            for attribute in ("step", "zero_grad"):
                vars(owner).pop(attribute, None)


def call_step(session: Session, raw: Any) -> None:
    assert session.train_step_fn is not None
    session.checkpoint()
    seed_everything(session.seed)
    session.forward_passes += 1
    session.backward_passes += 1
    try:
        session.train_step_fn(session.model, move_batch(raw, session.device), session.optimizer, session.loss_fn)
    except (Exception, SystemExit) as exc:
        raise UserCodeError("train_step", exc) from exc


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
    codes = ("RD404", "RD406")
    cost = 6
    description = "the configured train_step: gradient accumulation and eval-mode updates"

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        if session.train_step_fn is None:
            raise SkipCheck("no train_step in the config")
        stats = measure_step(session)
        if stats.steps == 0:
            raise SkipCheck("the train_step never called optimizer.step()")
        ctx.findings.extend(judge.judge_accumulation(stats))
        ctx.findings.extend(judge.judge_eval_mode_steps(stats))
        return Outcome(
            f"{stats.steps} step(s), {stats.zero_grad_calls} zero_grad call(s)",
            {
                "grad_growth": stats.grad_growth,
                "steps": stats.steps,
                "zero_grad_calls": stats.zero_grad_calls,
                "eval_mode_steps": stats.eval_mode_steps,
            },
        )

"""One training step the way the user trains: their own ``train_step`` when the config has one (its
clipping, LBFGS closure, schedulers, hidden-state handling), else a plain step with their loss and optimizer.

The learning-rate sweep, the one-batch fit and the short run all train through `train_on`, and set the
rate through the optimizer's parameter groups, so a check that trains judges the loop the user runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.core.errors import SkipCheck, UserCodeError
from rnndoctor.runtime.batches import move_batch
from rnndoctor.runtime.facts import fact
from rnndoctor.runtime.session import Forward, Session
from rnndoctor.runtime.state import ModelState, seed_everything
from rnndoctor.runtime.task import loss_family, loss_ignore_index


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


@dataclass
class Step:
    """What one training step measured: its loss and the outputs/targets that went into it."""

    loss: float
    outputs: Any = None
    targets: Any = None


class RecordingLoss:
    """The user's loss, handed to their ``train_step``, remembering the first call's inputs and value.

    Attribute reads (``reduction``, ``ignore_index``) go to the real loss, so the step cannot tell."""

    def __init__(self, loss_fn: Any) -> None:
        self._loss_fn = loss_fn
        self.calls = 0
        self.first: tuple[Any, Any, float] | None = None

    def __call__(self, outputs: Any, targets: Any, *args: Any, **kwargs: Any) -> Any:
        value = self._loss_fn(outputs, targets, *args, **kwargs)
        self.note(outputs, targets, value)
        return value

    def note(self, outputs: Any, targets: Any, value: Any) -> None:
        """Count a loss the step computed; a step that computes its own (a LightningModule's) reports it here."""
        self.calls += 1
        if self.first is None and isinstance(value, torch.Tensor):
            self.first = (outputs, targets, float(value.detach().double().mean()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loss_fn, name)


def train_on(session: Session, raw: Any) -> Step:
    """One training step on ``raw`` (cut to the step budget), with the user's step when there is one."""
    raw = session.within_step_budget(raw)
    if session.train_step_fn is not None:
        return user_step(session, raw)
    return own_step(session, raw)


def own_step(session: Session, raw: Any) -> Step:
    """zero_grad, forward, loss, backward and optimizer.step, through a closure (which every torch
    optimizer accepts and LBFGS requires)."""
    first: list[Step] = []

    def closure() -> torch.Tensor:
        session.optimizer.zero_grad(set_to_none=True)
        forward = session.forward(raw, grad=True)
        loss = session.scalar_loss(forward.outputs, forward.targets)
        if not first:
            first.append(Step(float(loss.detach()), forward.outputs, forward.targets))
        if math.isfinite(float(loss.detach())) and loss.requires_grad:
            session.backward(loss)
        return loss

    loss = closure()
    if math.isfinite(first[0].loss) and loss.requires_grad:
        done = [False]

        def again() -> torch.Tensor:
            if not done[0]:
                done[0] = True
                return loss
            return closure()

        session.optimizer.step(again)  # type: ignore[arg-type]
    return first[0]


def user_step(session: Session, raw: Any) -> Step:
    """Call the configured ``train_step`` once; passes are counted from the model calls it makes."""
    assert session.train_step_fn is not None
    session.checkpoint()
    recorder = RecordingLoss(session.loss_fn)
    calls = [0]

    def count(module: Any, args: Any) -> None:
        calls[0] += 1

    handle = session.model.register_forward_pre_hook(count)
    try:
        returned = session.train_step_fn(session.model, move_batch(raw, session.device), session.optimizer, recorder)
    except SkipCheck:
        raise
    except (Exception, SystemExit) as exc:
        raise UserCodeError("train_step", exc) from exc
    finally:
        handle.remove()
        session.forward_passes += max(calls[0], 1)
        session.backward_passes += max(recorder.calls, 1)
    loss = _number(returned)
    outputs = targets = None
    if recorder.first is not None:
        outputs, targets, recorded = recorder.first
        loss = recorded if loss is None else loss
    if loss is None:
        raise UserCodeError(
            "train_step", TypeError("the train_step returned no loss and did not call the loss_fn it was given")
        )
    return Step(loss, outputs, targets)


def _number(value: Any) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() >= 1:
        return float(value.detach().double().mean())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def yardstick_loss(session: Session, raw: Any) -> float:
    """The loss on a fixed batch without a training step, in eval mode. Reading the loss of the batch just
    trained on instead would mix each batch's own difficulty into a curve."""
    return evaluated(session, raw)[1]


def evaluated(session: Session, raw: Any) -> tuple[Forward, float]:
    """One eval-mode forward of ``raw`` (cut to the step budget) and its loss, without a training step."""
    was_training = session.model.training
    session.model.eval()
    try:
        result = session.forward(session.within_step_budget(raw))
        return result, float(session.loss(result.outputs, result.targets).detach().double().mean())
    finally:
        session.model.train(was_training)


def batch_accuracy(session: Session, outputs: Any, targets: Any) -> tuple[float | None, int | None, int | None]:
    """Accuracy on the batch, and how many distinct classes are predicted and present (classification)."""
    if not isinstance(outputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        return None, None, None
    family = loss_family(session.loss_name)
    out, tgt = outputs.detach(), targets.detach()
    if family == "index" and out.dim() == tgt.dim() + 1 and out.shape[:1] + out.shape[2:] == tgt.shape:
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


@dataclass
class RateResponse:
    """Whether the user's step moves the weights differently when the optimizer's rate changes."""

    follows_rate: bool
    update_at_rate: float
    update_at_half_rate: float
    calls_optimizer_step: bool


def rate_response(session: Session) -> RateResponse | None:
    """Run the user's step twice from the same state, at the configured rate and at half of it (a fact).

    A step that updates the weights by hand with its own constant rate, or a scheduler that sets the rate
    itself, moves the weights the same both times: rnndoctor then cannot sweep or change the rate.
    None without a train_step or when the step changes nothing.
    """
    return fact(session, _measure_rate_response)


def _measure_rate_response(session: Session) -> RateResponse | None:
    if session.train_step_fn is None:
        return None
    model, optimizer = session.model, session.optimizer
    raw = session.within_step_budget(session.sample("train").batches[0])
    start = ModelState(model, optimizer)
    rate = LearningRate(optimizer)
    calls = [0]

    def counted(opt: Any, args: Any, kwargs: Any) -> None:
        calls[0] += 1

    sizes = []
    handle = optimizer.register_step_pre_hook(counted)
    try:
        for factor in (1.0, 0.5):
            start.restore()
            seed_everything(session.seed)
            rate.set(rate.configured * factor)
            model.train()
            before = [p.detach().clone() for p in model.parameters()]
            user_step(session, raw)
            moved = sum(
                float((p.detach() - b).double().pow(2).sum()) for p, b in zip(model.parameters(), before, strict=True)
            )
            sizes.append(math.sqrt(moved))
    finally:
        handle.remove()
        start.restore()
    response = None
    if sizes[0] > 0 and all(map(math.isfinite, sizes)):
        follows = abs(sizes[1] / sizes[0] - 1.0) > 1e-3
        response = RateResponse(follows, sizes[0], sizes[1], calls[0] > 0)
    return response

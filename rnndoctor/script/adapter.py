"""A captured script as the setup a diagnosis runs: its trained model, optimizer and loss, one batch per
observed step, a replay of its forward pass, and its own loop as the training step.

The training step resumes the paused script for one step. When the script's step is replayable (one
call of one trained module, one loss), the step trains on the batch the check asks for: the script's code
runs as written, with the module's arguments and the loss's target taken from that batch. Otherwise the
script trains on its own data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from rnndoctor.registry import SkipCheck
from rnndoctor.script.capture import Capture, first_tensor
from rnndoctor.script.observer import StepPlan, Substitution
from rnndoctor.script.optimizers import HandWrittenSGD, JointOptimizer
from rnndoctor.script.records import ModuleCall, StepRecord, tensors_in
from rnndoctor.script.runner import ScriptTimeout

CALL_KEY = "_rnndoctor_call"
"""Where a captured batch keeps the full call it came from (the arguments besides the inputs)."""

STEP_TIMEOUT = 600.0
"""Seconds one step of the script may take before rnndoctor stops waiting for it."""


class ScriptModules(nn.Module):
    """The modules a script trains, under the names it gives them, seen as one model. The script calls them
    separately, so this container is never called itself."""

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        super().__init__()
        for name, module in modules.items():
            self.add_module(name, module)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the script calls its modules one by one; the container is not a model of its own")


@dataclass
class ScriptSetup:
    """The objects a session needs, built from a capture."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: Callable[..., Any]
    batches: list[dict[str, Any]]
    forward_fn: Callable[..., Any] | None
    train_step_fn: Callable[..., Any]
    forward_unavailable: str | None
    reference: tuple[Any, Any] | None
    """(outputs, targets) of the first step as the loss saw them, for a script whose forward cannot be replayed."""
    module_names: dict[str, str] = field(default_factory=dict)


def build_setup(capture: Capture) -> ScriptSetup:
    names = {id(m): capture.names.get(id(m)) or f"module{i}" for i, m in enumerate(capture.modules)}
    if len(capture.modules) == 1:
        model: nn.Module = capture.modules[0]
    else:
        model = ScriptModules({_identifier(names[id(m)], i): m for i, m in enumerate(capture.modules)})
    optimizer = _optimizer(capture, model)
    batches = [_batch(record, capture) for record in capture.records]
    forward_fn = _replay if capture.replayable else None
    reference = None if capture.replayable else _captured_reference(capture.records[0])
    step = ScriptStep(capture, model, optimizer)
    return ScriptSetup(
        model=model,
        optimizer=optimizer,
        loss_fn=capture.loss,
        batches=batches,
        forward_fn=forward_fn,
        train_step_fn=step,
        forward_unavailable=None
        if capture.replayable
        else f"the script's forward pass cannot be replayed: {capture.replay_problem}",
        reference=reference,
        module_names={type(m).__name__: names[id(m)] for m in capture.modules},
    )


def _identifier(name: str, index: int) -> str:
    return name if name.isidentifier() and name not in dir(nn.Module) else f"module{index}"


def _optimizer(capture: Capture, model: nn.Module) -> torch.optim.Optimizer:
    trained = {id(p) for p in model.parameters()}
    optimizers = [o for o in capture.optimizers if any(id(p) in trained for g in o.param_groups for p in g["params"])]
    if len(optimizers) == 1:
        return optimizers[0]
    if optimizers:
        return JointOptimizer(optimizers)
    params = [p for p in model.parameters() if p.requires_grad]
    return HandWrittenSGD(params, capture.measured_lr)


def _batch(record: StepRecord, capture: Capture) -> dict[str, Any]:
    """One step's data as a batch: the trained module's first tensor argument, the loss's target, lengths
    when the call passes them; the whole call is kept for the replay."""
    call = record.calls[0] if record.calls else None
    inputs = first_tensor(call) if call is not None else None
    batch: dict[str, Any] = {"inputs": inputs, "targets": _targets(record)}
    if call is not None:
        lengths = _lengths(call, inputs)
        if lengths is not None:
            batch["lengths"] = lengths
        batch[CALL_KEY] = call
    return batch


def _targets(record: StepRecord) -> Any:
    targets = [loss.target for loss in record.losses]
    if len(targets) == 1:
        return targets[0]
    if targets and all(isinstance(t, torch.Tensor) for t in targets):
        shapes = {tuple(t.shape[1:]) for t in targets}
        if len(shapes) == 1 and all(t.dim() >= 1 for t in targets):
            return torch.cat(targets)
        return torch.cat([t.reshape(-1) for t in targets])
    return targets[0] if targets else None


def _captured_reference(record: StepRecord) -> tuple[Any, Any] | None:
    losses = record.losses
    if not losses:
        return None
    inputs = [loss.input for loss in losses]
    if len(inputs) > 1 and len({tuple(t.shape[1:]) for t in inputs}) == 1 and all(t.dim() >= 1 for t in inputs):
        return torch.cat(inputs), _targets(record)
    return losses[0].input, losses[0].target


def _lengths(call: ModuleCall, inputs: Any) -> torch.Tensor | None:
    """A 1-D integer tensor passed beside the inputs whose values fit in the inputs' axes: their lengths."""
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2:
        return None
    for value in call.args[1:]:
        if (
            isinstance(value, torch.Tensor)
            and value.dim() == 1
            and not value.is_floating_point()
            and value.dtype != torch.bool
            and value.numel() in inputs.shape[:2]
            and value.numel() > 0
            and int(value.min()) >= 1
            and int(value.max()) <= max(inputs.shape[:2])
        ):
            return value
    return None


def call_arguments(batch: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any], ModuleCall]:
    """The trained module's arguments for ``batch``: the captured call, with the batch's own inputs and
    lengths (a check may have edited or cut them) and the other tensors cut to as many samples."""
    call: ModuleCall = batch[CALL_KEY]
    original = first_tensor(call)
    inputs = batch["inputs"]
    device = inputs.device if isinstance(inputs, torch.Tensor) else None
    sample_axis, kept = _cut(original, inputs)
    replaced = [False]

    def rebuild(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            if value is original and not replaced[0]:
                replaced[0] = True
                return inputs
            if "lengths" in batch and value is _lengths(call, original):
                return batch["lengths"]
            moved = value.to(device) if device is not None and value.device != device else value
            return _narrowed(moved, original, sample_axis, kept)
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*(rebuild(v) for v in value))
        if isinstance(value, (tuple, list)):
            return type(value)(rebuild(v) for v in value)
        if isinstance(value, dict):
            return {k: rebuild(v) for k, v in value.items()}
        return value

    args = tuple(rebuild(v) for v in call.args)
    kwargs = {k: rebuild(v) for k, v in call.kwargs.items()}
    return args, kwargs, call


def _cut(original: Any, inputs: Any) -> tuple[int | None, int | None]:
    """The axis along which a check cut the inputs to fewer samples, and how many it kept."""
    if not isinstance(original, torch.Tensor) or not isinstance(inputs, torch.Tensor):
        return None, None
    if original.shape == inputs.shape or original.dim() != inputs.dim():
        return None, None
    differing = [axis for axis in range(original.dim()) if original.shape[axis] != inputs.shape[axis]]
    if len(differing) != 1:
        return None, None
    return differing[0], int(inputs.shape[differing[0]])


def _narrowed(value: torch.Tensor, original: Any, axis: int | None, kept: int | None) -> torch.Tensor:
    """Another tensor of the call cut to the kept samples: along the first axis holding as many samples."""
    if axis is None or kept is None or not isinstance(original, torch.Tensor):
        return value
    samples = int(original.shape[axis])
    for dim in range(value.dim()):
        if value.shape[dim] == samples:
            return value.narrow(dim, 0, kept)
    return value


def _replay(model: nn.Module, batch: dict[str, Any]) -> tuple[Any, Any]:
    """The script's forward pass on a captured batch: the call, then the operations up to the loss input."""
    args, kwargs, call = call_arguments(batch)
    output = model(*args, **kwargs)
    return call.link.apply(output), batch["targets"]


class ScriptStep:
    """The configured-step interface (model, batch, optimizer, loss) over the paused script: one call runs one
    step of the script's own loop."""

    def __init__(self, capture: Capture, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.capture = capture
        self.model = model
        self.optimizer = optimizer
        self.steps = 0
        self.scaled = tuple(p for p in model.parameters() if p.requires_grad)

    @property
    def run(self) -> Any:
        return self.capture.run

    def __call__(self, model: Any, batch: Any, optimizer: Any, loss_fn: Any) -> Any:
        run = self.run
        try:
            run.wait_pending(STEP_TIMEOUT)
        except ScriptTimeout:
            raise SkipCheck("the script's previous step did not finish") from None
        if not run.alive:
            raise SkipCheck(
                f"the script ended after {len(self.capture.records) + self.steps} training steps; give it more "
                "epochs or iterations (script_args) so that the checks that train can run"
            )
        plan = StepPlan(
            substitute=self._substitution(batch),
            loss_fn=loss_fn if self.capture.uniform_loss else None,
            grad_scale=self._gradient_scale(),
            scaled=self.scaled,
        )
        try:
            message = run.advance(plan, timeout=STEP_TIMEOUT)
        except ScriptTimeout:
            raise SkipCheck(f"one step of the script took longer than {STEP_TIMEOUT:g} s") from None
        record = message.record
        self.steps += 1
        if message.kind == "crashed" and message.error is not None:
            raise message.error
        if record is None or not record.backward_values:
            raise SkipCheck(f"the script {message.kind} before completing another training step")
        if not self.capture.uniform_loss and record.losses and hasattr(loss_fn, "note"):
            first = record.losses[0]
            loss_fn.note(first.input, first.target, record.loss)
        record.forget_live()
        loss = record.loss
        return torch.tensor(loss if loss is not None else math.nan)

    def _substitution(self, batch: Any) -> Substitution | None:
        if not self.capture.replayable or not isinstance(batch, dict) or CALL_KEY not in batch:
            return None
        args, kwargs, call = call_arguments(batch)
        return Substitution(call.module, args, kwargs, batch["targets"])

    def _gradient_scale(self) -> float:
        if isinstance(self.optimizer, HandWrittenSGD):
            return self.optimizer.gradient_scale()
        return 1.0


def output_shapes(record: StepRecord) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for call in record.calls for t in tensors_in(call.output)]

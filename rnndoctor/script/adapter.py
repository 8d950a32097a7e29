"""A captured script as the setup a diagnosis runs: its trained model, optimizer and loss, one batch per
observed step, a replay of its forward pass, and its own loop as the training step.

The training step resumes the paused script for one step. When the script's step is replayable (one
call of one trained module, one loss), the step trains on the batch the check asks for: the script's code
runs as written, with the module's arguments and the loss's target taken from that batch. Otherwise the
script trains on its own data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnndoctor.core.errors import SkipCheck
from rnndoctor.runtime.state import RngState
from rnndoctor.script.capture import Capture
from rnndoctor.script.observer import Observer
from rnndoctor.script.optimizers import HandWrittenSGD, JointOptimizer
from rnndoctor.script.program import StepProgram, call_arguments, lengths_of, replay
from rnndoctor.script.protocol import StepPlan, Substitution
from rnndoctor.script.records import StepRecord, data_fingerprint, tensors_in
from rnndoctor.script.runner import ScriptRun, ScriptTimeout
from rnndoctor.setup.config import TIME_FIRST

CALL_KEY = "_rnndoctor_call"
"""Where a captured batch keeps the full call it came from (the arguments besides the inputs)."""

STEP_TIMEOUT = 600.0
"""Seconds one step of the script may take before rnndoctor stops waiting for it."""


class ScriptModel(nn.Module):
    """The modules a script trains when it calls them piecewise (a character RNN stepped by hand, an encoder
    and a decoder), seen as one model: called with a batch's inputs and the step program they came from,
    it runs the program, so the checks' hooks on the model see the inputs."""

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        super().__init__()
        for name, module in modules.items():
            self.add_module(name, module)

    def forward(self, inputs: Any, program: StepProgram | None = None, lengths: Any = None) -> Any:
        if program is None:
            raise RuntimeError("the script calls its modules one by one; replay one of its steps instead")
        return replay(program, inputs, lengths=lengths)


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
    layout_hint: str | None = None


def build_setup(capture: Capture) -> ScriptSetup:
    names = {id(m): capture.names.get(id(m)) or f"module{i}" for i, m in enumerate(capture.modules)}
    programs = [p for p in capture.programs if p is not None]
    single = capture.replayable and all(
        p.single_call and p.calls[0].module is programs[0].calls[0].module for p in programs
    )
    if single and len(capture.modules) == 1:
        model: nn.Module = capture.modules[0]
        forward_fn: Callable[..., Any] | None = _replay_single
    else:
        model = ScriptModel({_identifier(names[id(m)], i): m for i, m in enumerate(capture.modules)})
        forward_fn = _replay_program if capture.replayable else None
    optimizer = _optimizer(capture, model)
    batches = [_batch(record, program) for record, program in zip(capture.records, capture.programs, strict=True)]
    reference = None if capture.replayable else _captured_reference(capture.records[0])
    substitutable = single and len(capture.modules) == 1
    step: Callable[..., Any]
    if capture.replayable and not substitutable:
        step = ProgramStep(capture, forward_fn or _replay_program)
    else:
        step = ScriptStep(capture, model, optimizer, substitutable=substitutable)
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
        layout_hint=TIME_FIRST if programs and all(p.stacked for p in programs) else None,
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


def _batch(record: StepRecord, program: StepProgram | None) -> dict[str, Any]:
    """One step's data as a batch: the inputs the program marked, the loss's targets, lengths when the call
    passed them; the program itself is kept for the replay."""
    if program is None:
        call = record.calls[0] if record.calls else None
        first = tensors_in((call.args, call.kwargs)) if call is not None else []
        return {"inputs": first[0] if first else None, "targets": _all_targets(record)}
    batch: dict[str, Any] = {"inputs": program.inputs, "targets": program.targets, CALL_KEY: program}
    lengths = lengths_of(program)
    if lengths is not None:
        batch["lengths"] = lengths
    return batch


def _all_targets(record: StepRecord) -> Any:
    targets = [loss.target for loss in record.losses]
    if len(targets) == 1:
        return targets[0]
    if targets and all(isinstance(t, torch.Tensor) for t in targets):
        return torch.cat([t.reshape(-1) for t in targets])
    return targets[0] if targets else None


def _captured_reference(record: StepRecord) -> tuple[Any, Any] | None:
    losses = record.losses
    if not losses:
        return None
    inputs = [loss.input for loss in losses]
    if len(inputs) > 1 and len({tuple(t.shape[1:]) for t in inputs}) == 1 and all(t.dim() >= 1 for t in inputs):
        return torch.cat(inputs), _all_targets(record)
    return losses[0].input, losses[0].target


def _replay_single(model: nn.Module, batch: dict[str, Any]) -> tuple[Any, Any]:
    """The script's forward pass on a captured batch: its one call, then the operations up to the loss input."""
    program: StepProgram = batch[CALL_KEY]
    return replay(program, batch["inputs"], entry=model, lengths=batch.get("lengths")), batch["targets"]


def _replay_program(model: nn.Module, batch: dict[str, Any]) -> tuple[Any, Any]:
    return model(batch["inputs"], program=batch[CALL_KEY], lengths=batch.get("lengths")), batch["targets"]


class ScriptStep:
    """The configured-step interface (model, batch, optimizer, loss) over the paused script: one call runs one
    step of the script's own loop."""

    def __init__(
        self, capture: Capture, model: nn.Module, optimizer: torch.optim.Optimizer, *, substitutable: bool
    ) -> None:
        self.capture = capture
        self.model = model
        self.optimizer = optimizer
        self.substitutable = substitutable
        self.steps = 0
        self.runs = 1
        self.restart_seconds = 0.0
        self._steps_in_run = len(capture.records)
        self._fresh_needed = False
        self.scaled = tuple(p for p in model.parameters() if p.requires_grad)
        self._last: tuple[int, str] | None = None
        self._rng_before_last: RngState | None = None
        self.observed_events: list[str] = []
        """What the script's last step did, in order (the training-step check reads hand-written updates here)."""

    @property
    def run(self) -> Any:
        return self.capture.run

    def new_phase(self) -> None:
        """A check (or a shared measurement) begins: its steps get a fresh run of the script, whose own state
        (its rate variable, schedulers, epoch counter, data iterators) starts as the user's does."""
        if self._steps_in_run:
            self._fresh_needed = True

    def _restart(self) -> None:
        """Stop the script and start it again; its modules and optimizers become twins of the diagnosed ones."""
        old = self.capture.run
        old.stop()
        _close_figures()
        observer = Observer()
        observer.twins = list(self.capture.modules)
        observer.optimizer_twins = list(self.capture.optimizers)
        run = ScriptRun(old.environment, observer)
        started = time.perf_counter()
        message = run.start()
        self.restart_seconds += time.perf_counter() - started
        self.capture.run = run
        self.runs += 1
        self._steps_in_run = 0
        self._fresh_needed = False
        if message.kind != "paused":
            raise SkipCheck(f"the script did not reach a training step when started again ({message.kind})")

    def __call__(self, model: Any, batch: Any, optimizer: Any, loss_fn: Any) -> Any:
        key = self._key(batch)
        for _ in range(2):
            if self._fresh_needed or not self.run.alive:
                self.run.wait_pending(STEP_TIMEOUT)
                self._restart()
            message = self._one_step(batch, key, loss_fn)
            record = message.record
            if message.kind == "crashed" and message.error is not None:
                if message.stage is None and self.substitutable:
                    # The script's own code around the model (a plot, a metric of fixed size) failed on the batch
                    # rnndoctor chose: a limit of the diagnosis, not a bug in the training.
                    self._fresh_needed = True
                    raise SkipCheck(
                        f"the script's own code failed on a batch rnndoctor chose ({type(message.error).__name__}: "
                        f"{str(message.error).strip()[:200]})"
                    )
                raise message.error
            if record is not None and record.backward_values:
                break
            # The script ended (its last epoch) before this step was done: start it again and take the step there.
            self._fresh_needed = True
        else:
            raise SkipCheck(f"the script {message.kind} twice before completing a training step")
        self.steps += 1
        self._steps_in_run += 1
        self.observed_events = list(record.events)
        self._require_repeat(key, record)
        if not self.capture.uniform_loss and record.losses and hasattr(loss_fn, "note"):
            first = record.losses[0]
            loss_fn.note(first.input, first.target, record.loss)
        record.forget_live()
        loss = record.loss
        return torch.tensor(loss if loss is not None else math.nan)

    def _one_step(self, batch: Any, key: int, loss_fn: Any) -> Any:
        run = self.run
        try:
            run.wait_pending(STEP_TIMEOUT)
        except ScriptTimeout:
            raise SkipCheck("the script's previous step did not finish") from None
        if not self.substitutable:
            # Where rnndoctor cannot choose the batch, the same random state makes a script that samples at
            # random draw the same one again.
            if self._last is not None and self._last[0] == key and self._rng_before_last is not None:
                self._rng_before_last.restore()
            else:
                self._rng_before_last = RngState.capture()
        plan = StepPlan(
            substitute=self._substitution(batch),
            loss_fn=loss_fn if self.capture.uniform_loss else None,
            grad_scale=self._gradient_scale(),
            scaled=self.scaled,
        )
        try:
            return run.advance(plan, timeout=STEP_TIMEOUT)
        except ScriptTimeout:
            raise SkipCheck(f"one step of the script took longer than {STEP_TIMEOUT:g} s") from None

    def _substitution(self, batch: Any) -> Substitution | None:
        if not self.substitutable or not isinstance(batch, dict) or CALL_KEY not in batch:
            return None
        program: StepProgram = batch[CALL_KEY]
        args, kwargs = call_arguments(program, batch["inputs"], batch.get("lengths"))
        return Substitution(program.calls[0].module, args, kwargs, program.split_targets(batch["targets"]))

    @staticmethod
    def _key(batch: Any) -> int:
        if isinstance(batch, dict):
            return id(batch.get(CALL_KEY, batch.get("inputs")))
        return id(batch)

    def _require_repeat(self, key: int, record: StepRecord) -> None:
        """A check that trains on one batch twice needs the script to do so: where rnndoctor cannot choose the
        batch, the script's own must be the same both times (a script that samples at random does, seeded)."""
        if self.substitutable:
            return
        fingerprint = data_fingerprint(record)
        last, self._last = self._last, (key, fingerprint)
        if last is not None and last[0] == key and last[1] != fingerprint:
            raise SkipCheck(
                "the script picks its own batches and rnndoctor cannot make it train on one batch twice "
                f"({self.capture.replay_problem or 'its model is called piecewise'})"
            )

    def _gradient_scale(self) -> float:
        if isinstance(self.optimizer, HandWrittenSGD):
            return self.optimizer.gradient_scale()
        return 1.0


class ProgramStep:
    """One iteration of the script's loop run by rnndoctor on a chosen batch, for a script whose model is
    called piecewise (the script itself cannot be told what to train on): the step's program replayed, its
    loss scaled as the script's (a sum over per-step losses stays a sum), then backward, clipping, the update
    and the clearing of gradients, each where the script's own steps did them."""

    def __init__(self, capture: Capture, forward: Callable[..., tuple[Any, Any]]) -> None:
        self.forward = forward
        orders = [_iteration(record.events) for record in capture.records]
        order = max(set(orders), key=orders.count)
        self.order = order
        clips = [clip for record in capture.records for clip in record.clips]
        self.clip = clips[0] if clips else None
        self.summed = _losses_summed(capture.records)
        self.steps = 0

    def __call__(self, model: Any, batch: Any, optimizer: Any, loss_fn: Any) -> Any:
        outputs, targets = self.forward(model, batch)
        loss = loss_fn(outputs, targets)
        if loss.numel() > 1:
            loss = loss.mean()
        program: StepProgram | None = batch.get(CALL_KEY) if isinstance(batch, dict) else None
        scaled = loss * len(program.losses) if self.summed and program is not None else loss
        params = [p for group in optimizer.param_groups for p in group["params"]]
        for event in self.order:
            if event == "backward":
                scaled.backward()
            elif event == "clip" and self.clip is not None:
                _clip(self.clip, params)
            elif event == "step":
                optimizer.step()
            elif event == "zero_grad":
                optimizer.zero_grad(set_to_none=True)
        self.steps += 1
        return loss.detach()


def _iteration(events: list[str]) -> tuple[str, ...]:
    """A step's events that make an iteration, in order, with the update of a hand-written loop (no
    optimizer step) placed after the backward pass and clipping."""
    kept = [e for e in events if e in ("backward", "clip", "step", "zero_grad")]
    if "step" not in kept and "backward" in kept:
        last = max(i for i, e in enumerate(kept) if e in ("backward", "clip"))
        kept.insert(last + 1, "step")
    return tuple(kept)


def _losses_summed(records: list[StepRecord]) -> bool:
    """Whether the script backpropagates the sum of its per-call losses (rather than their mean)."""
    votes = []
    for record in records:
        values = [loss.value for loss in record.losses]
        if len(values) < 2 or not record.backward_values:
            continue
        root = record.backward_values[0]
        votes.append(abs(root - sum(values)) <= 1e-4 * max(1.0, abs(root)))
    return bool(votes) and sum(votes) * 2 > len(votes)


def _clip(clip: tuple[str, dict[str, Any]], params: list[Any]) -> None:
    name, arguments = clip
    function = getattr(torch.nn.utils, name, None)
    if function is not None:
        function(params, **arguments)


def _close_figures() -> None:
    """A script that plots every step must not draw onto the figures of its previous runs."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")

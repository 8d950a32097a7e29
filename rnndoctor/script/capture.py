"""The first run of a script: start it, watch its first training steps, and name what it trains.

The script runs as it is for ``max_batches`` steps (or until it ends). What those steps show becomes the
setup the checks examine: the modules the script trains (their state put back to what it was before
their first call), its optimizers, its loss, and one batch per step — the trained module's arguments and
the loss's target — with the way the loss input was computed from the module's output. The run is then
left paused at the start of its next step, for the checks that train.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from rnndoctor.script.optimizers import measured_rate
from rnndoctor.script.program import StepProgram, build_program
from rnndoctor.script.protocol import Message, StepPlan
from rnndoctor.script.records import FunctionalLoss, StepRecord, data_fingerprint
from rnndoctor.script.replay import NotReplayable
from rnndoctor.script.runner import ScriptEnvironment, ScriptRun


class LightningFit(Exception):
    """The script trains through Lightning's ``Trainer.fit``: its arguments, for the Lightning support."""

    def __init__(self, arguments: dict[str, Any], run: ScriptRun, startup: float) -> None:
        super().__init__("the script trains with Lightning's Trainer.fit")
        self.arguments = arguments
        self.run = run
        self.startup = startup


class CaptureFailed(Exception):
    """The script never trained: the message says why, for the user (exit code 2)."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


@dataclass
class CrashDuringCapture:
    """The script raised inside its model, loss, backward or step: evidence, like a crash in a check."""

    stage: str
    error: BaseException
    steps_before: int


@dataclass
class Capture:
    run: ScriptRun
    records: list[StepRecord]
    modules: list[nn.Module]
    names: dict[int, str]
    optimizers: list[torch.optim.Optimizer]
    loss: Any
    uniform_loss: bool
    programs: list[StepProgram | None]
    """Per record: the step as a program to replay (None where it cannot be)."""
    replay_problem: str | None
    startup_seconds: float
    capture_seconds: float
    measured_lr: float | None = None
    crash: CrashDuringCapture | None = None
    ended: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def replayable(self) -> bool:
        return self.replay_problem is None


def capture(environment: ScriptEnvironment, steps: int) -> Capture:
    """Run the script until its first ``steps`` training steps are seen (see the module docstring)."""
    run = ScriptRun(environment)
    started = time.perf_counter()
    first = run.start()
    startup = time.perf_counter() - started
    if first.kind == "fit":
        raise LightningFit(first.payload, run, startup)
    if first.kind != "paused":
        raise _failure(first, environment, before_training=True)
    records: list[StepRecord] = []
    programs: list[StepProgram | None] = []
    problems: list[str] = []
    crash: CrashDuringCapture | None = None
    ended = False
    trained_params: list[nn.Parameter] = []
    before_update: dict[int, torch.Tensor] = {}
    plan = StepPlan()
    measured: float | None = None
    capture_started = time.perf_counter()
    while len(records) < steps:
        if len(records) == 0 and not run.observer.seen.optimizers:
            # Hand-written updates: keep the first step's gradients to read the script's rate from its update.
            trained_params = _parameters_of_first_states(run)
            before_update = {id(p): p.detach().clone() for p in trained_params}
            plan = StepPlan(scaled=tuple(trained_params))
            run.observer.capture_grads = True
        message = run.advance(plan, timeout=environment.spec.timeout if not records else None)
        if run.observer.capture_grads and run.observer.seen.grads_after_backward:
            measured = measured_rate(before_update, trained_params, run.observer.seen.grads_after_backward)
        run.observer.capture_grads = False
        plan = StepPlan()
        record = message.record
        if record is not None and record.backward_values:
            record.fingerprint = data_fingerprint(record)
            program, problem = _program(record)
            records.append(record)
            programs.append(program)
            if problem:
                problems.append(problem)
            if _full_batch(records):
                record.forget_live()
                break
        if record is not None:
            record.forget_live()
        if message.kind == "paused":
            continue
        if message.kind == "crashed" and message.stage is not None and message.error is not None:
            crash = CrashDuringCapture(message.stage, message.error, len(records))
            break
        if not records:
            raise _failure(message, environment, before_training=False)
        if message.kind in ("crashed", "exited"):
            raise _failure(message, environment, before_training=False)
        ended = True
        break
    if not records and crash is None:
        raise CaptureFailed("the script made no training step (no backward pass)", environment.output_tail())
    modules = _trained_modules(records, run)
    _restore_first_states(run)
    loss, uniform = _loss_of(records)
    problem = _replay_problem(records, programs, uniform, problems)
    return Capture(
        run=run,
        records=records,
        modules=modules,
        names=_names(run, modules),
        optimizers=list(run.observer.seen.optimizers),
        loss=loss,
        uniform_loss=uniform,
        programs=programs,
        replay_problem=problem,
        startup_seconds=startup,
        capture_seconds=time.perf_counter() - capture_started,
        measured_lr=measured,
        crash=crash,
        ended=ended,
    )


def _failure(message: Message, environment: ScriptEnvironment, *, before_training: bool) -> CaptureFailed:
    from rnndoctor.script.runner import user_traceback

    spec = environment.spec
    tail = environment.output_tail()
    when = "before its first training step" if before_training else "during its first training step"
    if message.kind == "ended":
        return CaptureFailed(f"the script ended {when} (no module with trainable weights was called)", tail)
    if message.kind == "exited":
        return CaptureFailed(f"the script called sys.exit({message.payload!r}) {when}", tail)
    if message.kind == "crashed" and message.error is not None:
        error = message.error
        text = str(error)
        if "CUDA" in text or "cuda" in text or "NVIDIA" in text:
            return CaptureFailed(
                f"the script needs CUDA, which this machine does not have: {type(error).__name__}: {text.strip()}",
                tail,
            )
        return CaptureFailed(f"the script raised {when}:\n{user_traceback(error, spec.path)}", tail)
    return CaptureFailed(f"the script stopped {when}", tail)


FULL_BATCH_REPEATS = 3
"""Steps in a row on the very same data end the capture early: the script trains on one full batch (as
LBFGS scripts usually do), so more steps would show nothing new."""


def _full_batch(records: list[StepRecord]) -> bool:
    if len(records) < FULL_BATCH_REPEATS:
        return False
    last = [record.fingerprint for record in records[-FULL_BATCH_REPEATS:]]
    return len(set(last)) == 1


def _program(record: StepRecord) -> tuple[StepProgram | None, str | None]:
    try:
        return build_program(record), None
    except NotReplayable as exc:
        return None, str(exc)


def _trained_modules(records: list[StepRecord], run: ScriptRun) -> list[nn.Module]:
    """The modules the script trains, in the order it first calls them, without those inside another."""
    seen: list[nn.Module] = []
    for record in records:
        for call in record.calls:
            if all(call.module is not module for module in seen):
                seen.append(call.module)
    inner = {id(sub) for module in seen for sub in module.modules() if sub is not module}
    return [module for module in seen if id(module) not in inner]


def _parameters_of_first_states(run: ScriptRun) -> list[nn.Parameter]:
    params: list[nn.Parameter] = []
    for state in run.observer.seen.first_states.values():
        for p in state.model.parameters():
            if p.requires_grad and all(p is not q for q in params):
                params.append(p)
    return params


def _restore_first_states(run: ScriptRun) -> None:
    """Put the trained modules and optimizers back to where the script started them."""
    for state in run.observer.seen.first_states.values():
        state.restore()
    for optimizer_state in run.observer.seen.optimizer_states.values():
        optimizer_state.restore()


def _loss_of(records: list[StepRecord]) -> tuple[Any, bool]:
    """The script's loss, and whether every step uses that same loss for every loss call."""
    losses = [loss.loss for record in records for loss in record.losses]
    if not losses:
        return None, False
    first = losses[0]

    def same(other: Any) -> bool:
        if isinstance(first, FunctionalLoss) and isinstance(other, FunctionalLoss):
            return first.same_as(other)
        return other is first

    return first, all(same(other) for other in losses[1:])


def _replay_problem(
    records: list[StepRecord], programs: list[StepProgram | None], uniform: bool, problems: list[str]
) -> str | None:
    if problems:
        return max(set(problems), key=problems.count)
    if not uniform:
        return "the steps use different losses"
    if not records or any(program is None for program in programs):
        return "no step could be replayed"
    return None


def _names(run: ScriptRun, modules: list[nn.Module]) -> dict[int, str]:
    """The names the script gives its trained modules (its global or local variables), for messages."""
    names: dict[int, str] = {}
    wanted = {id(module) for module in modules}
    namespaces: list[dict[str, Any]] = []
    main = sys.modules.get("__main__")
    if main is not None:
        namespaces.append(vars(main))
    frame = sys._current_frames().get(run.thread.ident or -1)
    while frame is not None:
        namespaces.append(frame.f_locals)
        frame = frame.f_back
    for namespace in namespaces:
        for name, value in list(namespace.items()):
            if id(value) in wanted and id(value) not in names and not name.startswith("_"):
                names[id(value)] = name
    return names

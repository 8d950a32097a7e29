"""One observed training step as a program that can be run again on the model: the calls of the trained
modules in order, what each was fed (the batch's inputs, data, or an earlier call's output), and how each
loss input came from a call's output.

A model called once (``out = model(x)``) is a program of one call. A character RNN stepped by hand
(``for i in range(T): out, h = rnn(x[i], h)``) is T calls of one module whose inputs stack into a
time-major batch, with the hidden state flowing from call to call. An encoder-decoder called piecewise
is the encoder's calls, then the decoder's, fed the encoder's state. Replaying the program runs the same
modules with the current weights, so gradients, probes and fits see the script's real computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.script.records import Flow, InputSlot, ModuleCall, StepRecord, tensors_in
from rnndoctor.script.replay import Link, NotReplayable, check_link, find_link


@dataclass(frozen=True)
class LengthsSlot:
    """Where a replayed call takes the batch's sequence lengths (the captured ones unless a check cut them)."""

    captured: torch.Tensor


@dataclass
class StepProgram:
    calls: list[ModuleCall]
    losses: list[tuple[int, Link]]
    """Per loss call: the call whose output it read, and the operations in between."""
    inputs: torch.Tensor | None
    """The batch's inputs: the first call's data, or the per-step data of a run of calls stacked on a new
    first (time) axis."""
    targets: Any
    target_shapes: list[tuple[int, ...]]
    """The shape of each loss call's own target (``targets`` concatenates them)."""

    def split_targets(self, targets: Any) -> list[Any]:
        """``targets`` (the batch's, perhaps edited by a check) cut back into one target per loss call."""
        if len(self.target_shapes) <= 1 or not isinstance(targets, torch.Tensor):
            return [targets]
        if targets.dim() >= 1 and targets.shape[0] == sum(s[0] for s in self.target_shapes if s):
            return list(torch.split(targets, [s[0] for s in self.target_shapes]))
        flat = targets.reshape(-1)
        sizes = [int(torch.Size(s).numel()) for s in self.target_shapes]
        if flat.numel() != sum(sizes):
            return [targets]
        return [piece.reshape(shape) for piece, shape in zip(torch.split(flat, sizes), self.target_shapes, strict=True)]

    @property
    def stacked(self) -> bool:
        """Whether the inputs are per-step data stacked on a new first (time) axis."""
        return any(slot.step is not None for call in self.calls for slot in _slots((call.args, call.kwargs)))

    @property
    def single_call(self) -> bool:
        return len(self.calls) == 1

    @property
    def modules(self) -> list[torch.nn.Module]:
        found: list[torch.nn.Module] = []
        for call in self.calls:
            if all(call.module is not module for module in found):
                found.append(call.module)
        return found

    def describe(self) -> str:
        if self.single_call:
            return "one call of the model"
        names = [type(m).__name__ for m in self.modules]
        return f"{len(self.calls)} calls of {', '.join(names)}"


def build_program(record: StepRecord) -> StepProgram:
    """The program of one step while its live outputs are still attached (raises NotReplayable)."""
    calls, losses = list(record.calls), list(record.losses)
    if not calls:
        raise NotReplayable("no call of a trained module was seen in the step")
    if not losses:
        raise NotReplayable("no loss was computed on the trained module's outputs")
    if _repeated_closure(calls, losses):
        calls, losses = calls[:1], losses[:1]
    sources: list[tuple[int, Link]] = []
    for loss in losses:
        sources.append(_source(calls, loss.live_input))
    inputs = _entry_inputs(calls)
    targets = [loss.target for loss in losses]
    shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else () for t in targets]
    program = StepProgram(calls, sources, inputs, _targets(targets), shapes)
    _mark_lengths(program)
    return program


def _repeated_closure(calls: list[ModuleCall], losses: list[Any]) -> bool:
    """LBFGS evaluates its closure several times per step: the same call on the same data each time."""
    if len(calls) < 2 or len(calls) != len(losses):
        return False
    first = calls[0]
    return all(call.module is first.module and _same_data(call.args, first.args) for call in calls[1:])


def _same_data(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_data(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Flow) or isinstance(b, Flow):
        return False
    return type(a) is type(b)


def _source(calls: list[ModuleCall], loss_input: Any) -> tuple[int, Link]:
    if not isinstance(loss_input, torch.Tensor):
        raise NotReplayable("the loss input is not a tensor")
    problem = "the loss input is not computed from a trained module's output"
    for index in range(len(calls) - 1, -1, -1):
        output = calls[index].output
        if output is None:
            continue
        try:
            link = find_link(output, loss_input)
        except NotReplayable as exc:
            problem = str(exc)
            continue
        if check_link(link, output, loss_input):
            return index, link
        problem = "replaying the operations between model and loss did not give the loss input back"
    raise NotReplayable(problem)


def _first_data(value: Any, path: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], torch.Tensor] | None:
    """The first data tensor among a call's arguments, with where it sits."""
    if isinstance(value, torch.Tensor):
        return path, value
    if isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            found = _first_data(item, (*path, index))
            if found is not None:
                return found
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_data(item, (*path, key))
            if found is not None:
                return found
    return None


def _entry_inputs(calls: list[ModuleCall]) -> torch.Tensor | None:
    """Mark the batch's inputs in the calls' arguments and return them (stacked for a per-step loop)."""
    first = _first_data((calls[0].args, calls[0].kwargs))
    if first is None:
        return None
    path, tensor = first
    run = [calls[0]]
    for call in calls[1:]:
        found = _first_data((call.args, call.kwargs))
        if call.module is not calls[0].module or found is None or found[0] != path or found[1].shape != tensor.shape:
            break
        run.append(call)
    if len(run) == 1:
        _replace(calls[0], path, InputSlot(None))
        return tensor
    steps = []
    for step, call in enumerate(run):
        found = _first_data((call.args, call.kwargs))
        assert found is not None
        steps.append(found[1])
        _replace(call, path, InputSlot(step))
    return torch.stack(steps)


def _replace(call: ModuleCall, path: tuple[Any, ...], value: Any) -> None:
    holder: list[Any] = [call.args, call.kwargs]
    _set(holder, path, value)
    call.args, call.kwargs = holder[0], holder[1]


def _set(container: Any, path: tuple[Any, ...], value: Any) -> Any:
    """``container`` with the item at ``path`` replaced (tuples rebuilt, lists and dicts changed in place)."""
    key = path[0]
    inner = value if len(path) == 1 else _set(container[key], path[1:], value)
    if isinstance(container, tuple):
        items = list(container)
        items[key] = inner
        return type(container)(*items) if hasattr(container, "_fields") else tuple(items)
    container[key] = inner
    return container


def _targets(targets: list[Any]) -> Any:
    if len(targets) == 1:
        return targets[0]
    if targets and all(isinstance(t, torch.Tensor) for t in targets):
        if len({tuple(t.shape[1:]) for t in targets}) == 1 and all(t.dim() >= 1 for t in targets):
            return torch.cat(targets)
        return torch.cat([t.reshape(-1) for t in targets])
    return targets[0] if targets else None


def replay(
    program: StepProgram, inputs: Any, *, entry: torch.nn.Module | None = None, lengths: Any = None
) -> torch.Tensor:
    """Run the program on ``inputs`` (the batch's, possibly edited or cut by a check) and return the loss
    input, the loss inputs of several loss calls concatenated. ``entry`` stands for the first call's module
    (the session's model, so that its hooks see the call)."""
    outputs: list[Any] = []
    reference = program.inputs
    _check_steps(program, inputs)
    cut = _cut(reference, inputs)
    for index, call in enumerate(program.calls):
        args = _fill(call.args, inputs, outputs, cut, lengths)
        kwargs = _fill(call.kwargs, inputs, outputs, cut, lengths)
        module = entry if index == 0 and entry is not None else call.module
        outputs.append(module(*args, **kwargs))
    values = [link.apply(outputs[source]) for source, link in program.losses]
    if len(values) == 1:
        return values[0]
    if len({tuple(v.shape[1:]) for v in values}) == 1 and all(v.dim() >= 1 for v in values):
        return torch.cat(values)
    return torch.cat([v.reshape(-1) for v in values])


def call_arguments(program: StepProgram, inputs: Any, lengths: Any = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The single call's arguments on ``inputs`` (for a step the script runs on a chosen batch)."""
    call = program.calls[0]
    cut = _cut(program.inputs, inputs)
    return _fill(call.args, inputs, [], cut, lengths), _fill(call.kwargs, inputs, [], cut, lengths)


def _check_steps(program: StepProgram, inputs: Any) -> None:
    """A model called once per time step is replayed on whole sequences only: the calls are the steps."""
    stepped = [slot.step for call in program.calls for slot in _slots(call.args) if slot.step is not None]
    if not stepped:
        return
    if not isinstance(inputs, torch.Tensor) or inputs.dim() == 0 or inputs.shape[0] <= max(stepped):
        from rnndoctor.core.errors import SkipCheck

        raise SkipCheck(
            "the script calls its model once per time step; rnndoctor replays such a step on whole sequences only"
        )


def _slots(value: Any) -> list[InputSlot]:
    if isinstance(value, InputSlot):
        return [value]
    if isinstance(value, (tuple, list)):
        return [slot for item in value for slot in _slots(item)]
    if isinstance(value, dict):
        return [slot for item in value.values() for slot in _slots(item)]
    return []


@dataclass(frozen=True)
class _Cut:
    axis: int
    samples: int
    kept: int


def _cut(reference: Any, inputs: Any) -> _Cut | None:
    """How a check cut the inputs to fewer samples (the one axis that shrank), if it did."""
    if not isinstance(reference, torch.Tensor) or not isinstance(inputs, torch.Tensor):
        return None
    if reference.shape == inputs.shape or reference.dim() != inputs.dim():
        return None
    differing = [a for a in range(reference.dim()) if reference.shape[a] != inputs.shape[a]]
    if len(differing) != 1:
        return None
    axis = differing[0]
    return _Cut(axis, int(reference.shape[axis]), int(inputs.shape[axis]))


def _fill(value: Any, inputs: Any, outputs: list[Any], cut: _Cut | None, lengths: Any) -> Any:
    if isinstance(value, InputSlot):
        return inputs if value.step is None else inputs[value.step]
    if isinstance(value, Flow):
        return tensors_in(outputs[value.call])[value.output]
    if isinstance(value, LengthsSlot):
        return value.captured if lengths is None else lengths
    if isinstance(value, torch.Tensor):
        device = inputs.device if isinstance(inputs, torch.Tensor) else None
        moved = value.to(device) if device is not None and value.device != device and value.dim() > 1 else value
        return _narrowed(moved, cut)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_fill(v, inputs, outputs, cut, lengths) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_fill(v, inputs, outputs, cut, lengths) for v in value)
    if isinstance(value, dict):
        return {k: _fill(v, inputs, outputs, cut, lengths) for k, v in value.items()}
    return value


def _narrowed(value: torch.Tensor, cut: _Cut | None) -> torch.Tensor:
    """Another tensor of the call cut to the kept samples: along the first axis holding as many samples."""
    if cut is None:
        return value
    for dim in range(value.dim()):
        if value.shape[dim] == cut.samples:
            return value.narrow(dim, 0, cut.kept)
    return value


def lengths_of(program: StepProgram) -> torch.Tensor | None:
    """The sequence lengths the call was given, when it was."""
    for value in program.calls[0].args:
        if isinstance(value, LengthsSlot):
            return value.captured
    return None


def _mark_lengths(program: StepProgram) -> None:
    """A 1-D integer tensor passed beside the inputs whose values fit in the inputs' axes: their lengths."""
    inputs = program.inputs
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2 or not program.single_call:
        return
    call = program.calls[0]
    for position, value in enumerate(call.args):
        if position > 0 and (
            isinstance(value, torch.Tensor)
            and value.dim() == 1
            and not value.is_floating_point()
            and value.dtype != torch.bool
            and value.numel() in inputs.shape[:2]
            and value.numel() > 0
            and int(value.min()) >= 1
            and int(value.max()) <= max(inputs.shape[:2])
        ):
            call.args = (*call.args[:position], LengthsSlot(value), *call.args[position + 1 :])
            return

"""The live objects of one diagnosis, the only path by which checks touch the user's model and data.

Going through the session is what lets the report count every forward and backward pass, keep each
check inside its time budget, and turn a crash in the user's code into evidence.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.core.errors import CheckTimeout, SkipCheck, UnusableData, UserCodeError
from rnndoctor.runtime.batches import (
    Batch,
    BatchFormatError,
    Sample,
    detach_tensors,
    draw_sample,
    first_output,
    move_batch,
    move_tensors,
    unpack,
)
from rnndoctor.runtime.budget import within_step_budget
from rnndoctor.runtime.calls import convention_failure, keyword_arguments
from rnndoctor.runtime.layout import (
    SINGLE,
    Layout,
    SampleView,
    embedding_rows,
    embedding_tables,
    ids_outside_table,
    infer_layout,
    loader_stacks_batch_first,
    multiplied_parameters,
    padding_id,
    take_samples,
)
from rnndoctor.runtime.recurrence import (
    ZEROS,
    batch_seen,
    declared_batch_first,
    detach_state,
    recurrent_modules,
    unwrap,
    zero_state,
)
from rnndoctor.runtime.scoring import PositionSubset, ScoringMismatch
from rnndoctor.runtime.summary import ShapeRecorder
from rnndoctor.runtime.work import WorkMeter
from rnndoctor.setup.config import AUTO
from rnndoctor.setup.loaded import Loaded


@dataclass
class Forward:
    """Outputs and targets of one batch, exactly as they go into the loss."""

    outputs: Any
    targets: Any
    batch: Batch | None
    model_input: Any = None
    """The first tensor the model itself received (what a ``forward`` function passed it)."""


InputEdit = Callable[[torch.Tensor], torch.Tensor]


ArgumentKey = int | str
"""Where an argument of a call sits: its position, or its keyword."""


def first_tensor_argument(args: tuple[Any, ...], kwargs: dict[str, Any], packed: bool = False) -> ArgumentKey | None:
    """The first tensor among a call's positional arguments (a PackedSequence too, with ``packed``), else
    among its keyword arguments; None when there is none."""
    kinds = (torch.Tensor, torch.nn.utils.rnn.PackedSequence) if packed else (torch.Tensor,)
    position = next((i for i, arg in enumerate(args) if isinstance(arg, kinds)), None)
    if position is not None:
        return position
    return next((key for key, arg in kwargs.items() if isinstance(arg, torch.Tensor)), None)


def argument(args: tuple[Any, ...], kwargs: dict[str, Any], key: ArgumentKey) -> Any:
    """The argument at ``key``, or None when the call has none there."""
    if isinstance(key, int):
        return args[key] if key < len(args) else None
    return kwargs.get(key)


def with_argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], key: ArgumentKey, value: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with the one at ``key`` replaced by ``value`` (the return of a forward pre-hook)."""
    if isinstance(key, int):
        return (*args[:key], value, *args[key + 1 :]), kwargs
    return args, {**kwargs, key: value}


class _ModelInput:
    """A forward pre-hook on the model that records its first tensor argument on the first call and,
    given ``edit``, replaces it: probes reach the real input even behind the user's ``forward``."""

    def __init__(self, model: torch.nn.Module, edit: InputEdit | None) -> None:
        self.value: Any = None
        self.edit = edit
        self.handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.value is not None:
            return None
        key = first_tensor_argument(args, kwargs, packed=True)
        if key is None:
            return None
        new = self._swap(argument(args, kwargs, key))
        return None if new is None else with_argument(args, kwargs, key, new)

    def _swap(self, arg: Any) -> Any:
        """Record the argument; return its replacement, or None to leave it."""
        self.value = arg
        if self.edit is None or not isinstance(arg, torch.Tensor):
            return None
        self.value = self.edit(arg)
        return self.value

    def remove(self) -> None:
        self.handle.remove()


def _empty(raw: Any, keys: dict[str, str] | None) -> bool:
    """A batch whose targets have a zero-length batch axis (nothing to learn from)."""
    try:
        size = unpack(raw, keys).size
    except BatchFormatError:
        return False
    return size == 0


class Session:
    def __init__(
        self,
        loaded: Loaded,
        *,
        device: torch.device,
        seed: int = 0,
        max_batches: int = 16,
        loss_name: str | None = None,
        hidden: str | None = None,
        layout: str = AUTO,
        batch_keys: dict[str, str] | None = None,
        max_step_work: float | None = None,
        check_options: dict[str, dict[str, Any] | None] | None = None,
        scored_positions: int = 0,
        max_check_work: float | None = None,
    ) -> None:
        self.model: torch.nn.Module = loaded.model
        self.optimizer: torch.optim.Optimizer = loaded.optimizer
        self.loss_fn: Callable[..., Any] = loaded.loss_fn
        self.forward_fn = loaded.forward_fn
        self.forward_unavailable = loaded.forward_unavailable
        self.targets_exact = loaded.targets_exact
        self.script_mode = loaded.script_mode
        self._on_new_phase = loaded.on_new_phase
        self._captured_reference = loaded.reference
        self.train_step_fn = loaded.train_step_fn
        self.train_data = loaded.train_data
        self.val_data = loaded.val_data
        self.device = device
        self.seed = seed
        self.max_batches = max_batches
        self.loss_name = loss_name or type(self.loss_fn).__name__
        self.hidden = hidden
        """How to make the initial state of a model called as ``model(inputs, hidden)``: a method name or 'zeros'."""
        self.layout_choice = loaded.layout_hint if layout == AUTO and loaded.layout_hint else layout
        self.batch_keys = batch_keys
        self.carry_state = False
        """Set by runs over consecutive batches: the hidden state flows (detached) from one batch to the next."""
        self._carried: tuple[int, Any] | None = None
        self._layouts: dict[str, Layout | None] = {}
        self.forward_passes = 0
        self.backward_passes = 0
        self.work = WorkMeter()
        """The running check's planned and taken training steps (progress, and where a stopped check was)."""
        self.deadline: float | None = None
        self._samples: dict[str, Sample] = {}
        self._sampling_errors: dict[str, Exception] = {}
        self._reference: Forward | None = None
        self.unsafe_inputs = False
        """Set by the inputs check when the model receives token ids outside its tables: later checks skip."""
        self.reference_crash_reported = False
        """Whether a crash of the shared reference forward has been reported (once per run)."""
        self.baseline: Any = None
        """The user's model and optimizer state before any check (a `ModelState`, set by the engine)."""
        self.facts: dict[Any, Any] = {}
        """Shared measurements computed on demand and cached for the run (`rnndoctor.runtime.facts`)."""
        self.check_options: dict[str, dict[str, Any] | None] = dict(check_options or {})
        """Every check's options (defaults merged), so that a fact reads its measurement's settings."""
        self.max_step_work = max_step_work
        """Multiply-adds one training step of a check may cost; larger batches are cut to fewer samples."""
        self.step_cut: dict[str, Any] | None = None
        """Set when a batch was cut to the step budget: the batch's samples, those kept, the work per sample."""
        self.scored_positions = scored_positions
        """Target positions a training step scores when the output layer is most of its work (0: all)."""
        self.scoring: PositionSubset | None = None
        """Set while the training loops score a subset of the positions (`rnndoctor.runtime.subsets`)."""
        self.budget_cuts: dict[tuple[int, int, bool], int] = {}
        """Samples kept per (batch samples, time steps, subset scored), computed once (`runtime.budget`)."""
        self.max_check_work = max_check_work
        """Multiply-adds the training loops of one check may cost (`rnndoctor.runtime.work`)."""
        self.work_cuts: dict[str, list[dict[str, Any]]] = {}
        """Per check, the loops that budget shortened: their names, the steps asked and given (the report)."""
        self.scoring_used: dict[str, Any] | None = None
        """Set once a subset of the positions was scored: the output layer and the positions (the report)."""
        self._dense_parameters: int | None = None
        self.shapes = ShapeRecorder()
        """The input and output shape of each layer in the reference forward pass (the report's model summary)."""
        self._recurrent_batch: int | None = None
        self._recurrent_batch_read = False
        self._token_ids_outside: bool | None = None

    def new_phase(self) -> None:
        """A check or a shared measurement begins: the setup may start its own state afresh (a script's run)."""
        if self._on_new_phase is not None:
            self._on_new_phase()

    # -- time budget ---------------------------------------------------------------------------
    def checkpoint(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise CheckTimeout()

    # -- data ----------------------------------------------------------------------------------
    def sample(self, split: str = "train") -> Sample:
        """The cached sample of a split's batches, drawn once per run at most ``max_batches`` long."""
        if split in self._sampling_errors:
            raise self._sampling_errors[split]
        if split not in self._samples:
            data = self.train_data if split == "train" else self.val_data
            if data is None:
                raise LookupError(f"no {split} data configured")
            rng = random.Random(f"{self.seed}:{split}")
            try:
                self._samples[split] = draw_sample(data, self.max_batches, rng, checkpoint=self.checkpoint)
            except CheckTimeout:
                raise
            except (Exception, SystemExit) as exc:
                # A loader may be a one-shot generator: remember the failure instead of drawing again.
                self._sampling_errors[split] = UserCodeError(f"{split}_data", exc)
                raise self._sampling_errors[split] from exc
            sample = self._samples[split]
            sample.batches = [detach_tensors(raw) for raw in sample.batches if not _empty(raw, self.batch_keys)]
            if not sample.batches:
                del self._samples[split]
                self._sampling_errors[split] = UnusableData(
                    f"the {split} data yielded no batches with samples in them", split
                )
                raise self._sampling_errors[split]
        return self._samples[split]

    def batches(self, split: str = "train", limit: int | None = None) -> list[Batch]:
        """The sampled batches of a split, unpacked by the contract's conventions (on the CPU)."""
        raws = self.sample(split).batches
        if limit is not None:
            raws = raws[:limit]
        try:
            return [self.unpack(raw) for raw in raws]
        except BatchFormatError as exc:
            raise UnusableData(f"batches are not in a supported layout: {exc}", split) from exc

    def unpack(self, raw: Any) -> Batch:
        return unpack(raw, self.batch_keys)

    def unpackable(self, split: str = "train") -> bool:
        """Whether the split's batches follow the contract's layouts (raises UnusableData when empty)."""
        try:
            self.unpack(self.sample(split).batches[0])
        except BatchFormatError:
            return False
        return True

    # -- layout --------------------------------------------------------------------------------
    def raw_layout(self, split: str = "train") -> Layout | None:
        """The layout of the batches' inputs as the loader yields them (what slicing a batch cuts)."""
        key = f"raw:{split}"
        if key not in self._layouts:
            layout = None
            if self.unpackable(split):
                batch = self.unpack(self.sample(split).batches[0])
                data = self.train_data if split == "train" else self.val_data
                layout = self._infer(batch.inputs, batch.targets, batch.lengths, loader_stacks_batch_first(data))
            self._layouts[key] = layout
        return self._layouts[key]

    def layout(self) -> Layout | None:
        """The layout of the tensor the model receives (behind a ``forward`` function, the one it passes)."""
        if "model" not in self._layouts:
            if self.forward_fn is None or self._passes_inputs_through():
                self._layouts["model"] = self.raw_layout()
            else:
                reference = self.reference()
                self._layouts["model"] = self._infer(reference.model_input, reference.targets, None, False)
        return self._layouts["model"]

    def _passes_inputs_through(self) -> bool:
        """The ``forward`` function hands the batch's own inputs to the model, unchanged: what the loader
        says about their layout then holds for the model's input too."""
        if not self.unpackable("train"):
            return False
        given = self.unpack(self.first_batch()).inputs
        received = self.reference().model_input
        if not isinstance(given, torch.Tensor) or not isinstance(received, torch.Tensor):
            return False
        return given.shape == received.shape and bool(torch.equal(given, received.detach().to(given.device)))

    def _infer(self, inputs: Any, targets: Any, lengths: Any, stacked: bool) -> Layout | None:
        return infer_layout(
            inputs,
            targets=targets,
            lengths=lengths,
            declared=self.layout_choice,
            recurrent_batch_first=declared_batch_first(self.model),
            loader_batch_first=stacked,
            pad_id=padding_id(self.model),
            sequential=bool(recurrent_modules(self.model)),
            recurrent_batch=self.recurrent_batch(),
        )

    def _single_sequence_possible(self) -> bool:
        """Whether the first batch's input has a size-1 axis among its first two (one sequence fed whole):
        only then is the recurrent layers' own reading worth a forward pass."""
        try:
            inputs = self.unpack(self.sample("train").batches[0]).inputs
        except (BatchFormatError, UnusableData, UserCodeError, LookupError):
            return False
        return isinstance(inputs, torch.Tensor) and inputs.dim() >= 2 and 1 in tuple(inputs.shape[:2])

    def recurrent_batch(self) -> int | None:
        """How many sequences the recurrent layers receive on the first batch (read from the shared reference
        forward; None without recurrent layers, or for a model that takes a hidden state from the config)."""
        if self._recurrent_batch_read or self.hidden is not None or not recurrent_modules(self.model):
            return self._recurrent_batch
        if not self._single_sequence_possible():
            return None
        self._recurrent_batch_read = True
        with contextlib.suppress(UserCodeError, SkipCheck, UnusableData, BatchFormatError, LookupError):
            self.reference()
        return self._recurrent_batch

    def views(self, forward: Forward) -> tuple[SampleView | None, SampleView | None]:
        """How the targets and the outputs of a forward map to the samples of the model's input."""
        layout = self.layout()
        if layout is None:
            return None, None
        layout = layout.resized(forward.model_input)
        targets = layout.view(forward.targets)
        per_sample = targets is not None and targets.steps is None
        index_loss = self.loss_name in ("CrossEntropyLoss", "NLLLoss")
        outputs_dim = getattr(forward.outputs, "ndim", 0)
        class_axis = 1 if index_loss and outputs_dim == getattr(forward.targets, "ndim", -9) + 1 else None
        hints = (targets.steps,) if targets is not None and targets.steps else ()
        outputs = layout.view(forward.outputs, steps=hints, class_axis=class_axis, per_sample=per_sample)
        return targets, outputs

    def batch_size(self, inputs: Any) -> int | None:
        """How many samples a raw input tensor holds, read with this run's layout."""
        layout = self.raw_layout()
        if layout is None:
            return None
        return layout.resized(inputs).samples

    def take(self, raw: Any, count: int) -> Any | None:
        """The first ``count`` samples of a raw batch, every part cut consistently (None when it cannot be)."""
        layout = self.raw_layout()
        if layout is None or layout.kind == SINGLE:
            return None
        try:
            batch = self.unpack(raw)
        except BatchFormatError:
            return None
        if not isinstance(batch.inputs, torch.Tensor):
            return None
        layout = layout.resized(batch.inputs)
        if layout.samples <= count:
            return raw
        view = layout.view(batch.targets)
        if view is None:
            return None
        return take_samples(raw, layout, (batch.slots[0], batch.slots[1]), view, count)

    def unsafe_token_ids(self) -> bool:
        """Whether the sampled training inputs hold token ids outside every embedding table: a forward pass
        would index out of range (on CUDA a device-side assert ends the process), so checks that run the
        model skip, and the inputs check reports RD109. Read from the raw batches whichever check asks first;
        behind a ``forward`` function it is known once the inputs check has measured what the model receives."""
        if self.unsafe_inputs:
            return True
        if self._token_ids_outside is None:
            self._token_ids_outside = self._scan_token_ids()
        return self._token_ids_outside

    def _scan_token_ids(self) -> bool:
        tables = embedding_tables(self.model)
        if not tables or self.forward_fn is not None:
            return False
        rows = max(embedding_rows(table) for _, table in tables)
        try:
            raws = self.sample("train").batches
            inputs = [self.unpack(raw).inputs for raw in raws]
        except (BatchFormatError, UnusableData, UserCodeError, LookupError):
            return False
        return any(ids_outside_table(ids, rows) for ids in inputs)

    def dense_parameters(self) -> int:
        """Weights a token passes through (embedding tables are looked up, not multiplied)."""
        if self._dense_parameters is None:
            self._dense_parameters = sum(p.numel() for p in multiplied_parameters(self.model))
        return self._dense_parameters

    # -- model ---------------------------------------------------------------------------------
    def forward(self, raw_batch: Any, *, grad: bool = False, edit_input: InputEdit | None = None) -> Forward:
        """Run the user's forward on one batch (counted), returning outputs and targets.

        ``edit_input`` replaces the tensor the model receives first (probes perturb the real input there).
        """
        self.checkpoint()
        if self.forward_unavailable:
            raise SkipCheck(self.forward_unavailable)
        if self.unsafe_token_ids():
            raise SkipCheck("token ids outside the embedding table (RD109) would crash the forward pass")
        lengths_key = self.batch_keys.get("lengths", "lengths") if self.batch_keys else "lengths"
        batch_on_device = move_batch(raw_batch, self.device, lengths_key)
        context = torch.enable_grad() if grad else torch.no_grad()
        self.forward_passes += 1
        watcher = _ModelInput(self.model, edit_input)
        try:
            with context:
                result = self._forward(raw_batch, batch_on_device, watcher)
                if self.scoring is not None:
                    result.targets = self.scoring.select(result.outputs, result.targets)
                return result
        except ScoringMismatch:
            # This forward does not line up with the scored positions: score all of them from now on.
            assert self.scoring is not None
            self.scoring.disabled = True
            return self.forward(raw_batch, grad=grad, edit_input=edit_input)
        finally:
            watcher.remove()

    def _forward(self, raw_batch: Any, batch_on_device: Any, watcher: _ModelInput) -> Forward:
        if self.forward_fn is not None:
            try:
                result = self.forward_fn(self.model, batch_on_device)
            except SkipCheck:
                raise
            except (Exception, SystemExit) as exc:
                raise UserCodeError("forward", exc) from exc
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise UserCodeError(
                    "forward",
                    TypeError(f"the forward function must return (outputs, targets), got {type(result).__name__}"),
                )
            return Forward(result[0], result[1], None, watcher.value)
        try:
            batch = self.unpack(batch_on_device)
        except BatchFormatError as exc:
            raise UnusableData(f"batches are not in a supported layout: {exc}") from exc
        if self.device.type == "cuda":
            self._guard_token_ids(raw_batch)
        args: tuple[Any, ...] = (batch.inputs,) if batch.lengths is None else (batch.inputs, batch.lengths)
        if self.hidden is not None:
            args = (*args, self._initial_state(batch.inputs))
        kwargs = keyword_arguments(self.model, batch_on_device, batch.slots, len(args))
        try:
            result = self.model(*args, **kwargs)
        except (Exception, SystemExit) as exc:
            failure = convention_failure(self.model, args, kwargs, exc, batch.slots, batch.lengths is not None)
            if failure:
                raise UnusableData(failure) from exc
            raise UserCodeError("forward", exc) from exc
        if self.hidden is not None and self.carry_state and isinstance(result, (tuple, list)) and len(result) > 1:
            self._carried = (self.batch_size(batch.inputs) or 0, detach_state(result[1]))
        return Forward(first_output(result), batch.targets, batch, watcher.value)

    def _initial_state(self, inputs: Any) -> Any:
        """The state a hidden-state model starts a batch with: the previous batch's, detached, inside a
        run over consecutive batches; else a fresh one from ``init_hidden`` (or zeros)."""
        self.raw_layout()
        size = self.batch_size(inputs) or 1
        if self.carry_state and self._carried is not None and self._carried[0] == size:
            return self._carried[1]
        try:
            if self.hidden == ZEROS:
                state = zero_state(self.model, size)
            else:
                state = getattr(unwrap(self.model), str(self.hidden))(size)
        except (Exception, SystemExit) as exc:
            raise UserCodeError("forward", exc) from exc
        return move_tensors(state, self.device)

    @contextlib.contextmanager
    def carrying_state(self) -> Iterator[None]:
        """Within this block a hidden-state model carries its (detached) state from batch to batch."""
        self.carry_state, self._carried = True, None
        try:
            yield
        finally:
            self.carry_state, self._carried = False, None

    def loss(self, outputs: Any, targets: Any) -> torch.Tensor:
        if self.device.type == "cuda":
            self._guard_class_ids(outputs, targets)
        try:
            value = self.loss_fn(outputs, targets)
        except (Exception, SystemExit) as exc:
            raise UserCodeError("loss", exc) from exc
        if not isinstance(value, torch.Tensor):
            raise UserCodeError("loss", TypeError(f"the loss returned {type(value).__name__}, not a tensor"))
        return value

    def _guard_token_ids(self, raw_batch: Any) -> None:
        """On CUDA an out-of-range embedding index is a device-side assert that poisons the process;
        check the ids first and fail the way the CPU would."""
        try:
            inputs = self.unpack(raw_batch).inputs
        except BatchFormatError:
            return
        if not isinstance(inputs, torch.Tensor) or inputs.is_floating_point():
            return
        tables = [m for m in self.model.modules() if isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag))]
        if tables and inputs.numel():
            rows = max(int(t.num_embeddings) for t in tables)
            if int(inputs.min()) < 0 or int(inputs.max()) >= rows:
                raise UserCodeError("forward", IndexError("index out of range in self (checked before CUDA)"))

    def _guard_class_ids(self, outputs: Any, targets: Any) -> None:
        """The CUDA counterpart for class ids outside a class-index loss's range."""
        if type(self.loss_fn).__name__ not in ("CrossEntropyLoss", "NLLLoss"):
            return
        if not isinstance(outputs, torch.Tensor) or not isinstance(targets, torch.Tensor) or outputs.dim() < 2:
            return
        if targets.is_floating_point() or targets.dim() != outputs.dim() - 1 or not targets.numel():
            return
        ignore = getattr(self.loss_fn, "ignore_index", None)
        valid = targets if ignore is None else targets[targets != ignore]
        classes = int(outputs.shape[1])
        if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= classes):
            bad = int(valid.max()) if int(valid.max()) >= classes else int(valid.min())
            raise UserCodeError("loss", IndexError(f"Target {bad} is out of bounds (checked before CUDA)"))

    def scalar_loss(self, outputs: Any, targets: Any) -> torch.Tensor:
        """The loss as one number to backpropagate (the mean of an unreduced loss)."""
        loss = self.loss(outputs, targets)
        return loss if loss.numel() == 1 else loss.mean()

    def backward(self, loss: torch.Tensor) -> None:
        self.checkpoint()
        self.backward_passes += 1
        try:
            loss.backward()  # type: ignore[no-untyped-call]
        except (Exception, SystemExit) as exc:
            raise UserCodeError("backward", exc) from exc

    def first_batch(self) -> Any:
        """The first sampled training batch as the checks run it: cut to ``max_step_work`` when a pass over
        all of it would cost more (`rnndoctor.runtime.budget`)."""
        return within_step_budget(self, self.sample("train").batches[0])

    def reference(self) -> Forward:
        """One forward pass on the first training batch in eval mode, shared by every check."""
        if self._reference is None and self.forward_unavailable and self._captured_reference is not None:
            outputs, targets = self._captured_reference
            self._reference = Forward(outputs, targets, None, None)
        if self._reference is None:
            raw = self.first_batch()
            was_training = self.model.training
            self.model.eval()
            seen: list[int] = []

            def record(module: Any, args: tuple[Any, ...]) -> None:
                size = batch_seen(module, args)
                if size is not None and not seen:
                    seen.append(size)

            handles = [module.register_forward_pre_hook(record) for _, module in recurrent_modules(self.model)]
            try:
                with self.shapes.recording(self.model):
                    self._reference = self.forward(raw, grad=False)
            finally:
                for handle in handles:
                    handle.remove()
                self.model.train(was_training)
            self._recurrent_batch = seen[0] if seen else None
        return self._reference

"""The live objects of one diagnosis, the only path by which checks touch the user's model and data.

Going through the session is what lets the report count every forward and backward pass, keep each
check inside its time budget, and turn a crash in the user's code into evidence.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.batches import Batch, BatchFormatError, Sample, detach_tensors, draw_sample, move_batch, unpack
from rnndoctor.loading import Loaded
from rnndoctor.registry import SkipCheck


class CheckTimeout(BaseException):
    """The running check used up its time budget.

    A BaseException, so that an ``except Exception`` in the user's code cannot swallow it.
    """


class UserCodeError(Exception):
    """The user's model, loss, data or step raised; ``stage`` says which."""

    def __init__(self, stage: str, original: BaseException) -> None:
        self.stage = stage
        self.original = original
        super().__init__(f"{stage}: {type(original).__name__}: {original}")


class UnusableData(Exception):
    """The data yields nothing a check can use (no batches, or an unsupported batch layout)."""


@dataclass
class Forward:
    """Outputs and targets of one batch, exactly as they go into the loss."""

    outputs: Any
    targets: Any
    batch: Batch | None


def _empty(raw: Any) -> bool:
    """A batch whose targets have a zero-length batch axis (nothing to learn from)."""
    try:
        size = unpack(raw).size
    except BatchFormatError:
        return False
    return size == 0


def first_output(result: Any) -> Any:
    """Models that return ``(output, hidden)`` have their output first (contract §3)."""
    if isinstance(result, (tuple, list)) and result:
        return result[0]
    return result


class Session:
    def __init__(
        self,
        loaded: Loaded,
        *,
        device: torch.device,
        seed: int = 0,
        max_batches: int = 16,
        loss_name: str | None = None,
    ) -> None:
        self.model: torch.nn.Module = loaded.model
        self.optimizer: torch.optim.Optimizer = loaded.optimizer
        self.loss_fn: Callable[..., Any] = loaded.loss_fn
        self.forward_fn = loaded.forward_fn
        self.train_step_fn = loaded.train_step_fn
        self.train_data = loaded.train_data
        self.val_data = loaded.val_data
        self.device = device
        self.seed = seed
        self.max_batches = max_batches
        self.loss_name = loss_name or type(self.loss_fn).__name__
        self.forward_passes = 0
        self.backward_passes = 0
        self.deadline: float | None = None
        self._samples: dict[str, Sample] = {}
        self._sampling_errors: dict[str, Exception] = {}
        self._reference: Forward | None = None
        self.notes: dict[str, Any] = {}
        """Facts one check learns that later checks may use (e.g. an unsafe batch)."""

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
            sample.batches = [detach_tensors(raw) for raw in sample.batches if not _empty(raw)]
            if not sample.batches:
                del self._samples[split]
                self._sampling_errors[split] = UnusableData(f"the {split} data yielded no batches with samples in them")
                raise self._sampling_errors[split]
        return self._samples[split]

    def batches(self, split: str = "train", limit: int | None = None) -> list[Batch]:
        """The sampled batches of a split, unpacked by the contract's conventions (on the CPU)."""
        raws = self.sample(split).batches
        if limit is not None:
            raws = raws[:limit]
        try:
            return [unpack(raw) for raw in raws]
        except BatchFormatError as exc:
            raise UnusableData(f"batches are not in a supported layout: {exc}") from exc

    def unpackable(self, split: str = "train") -> bool:
        """Whether the split's batches follow the contract's layouts (raises UnusableData when empty)."""
        try:
            unpack(self.sample(split).batches[0])
        except BatchFormatError:
            return False
        return True

    # -- model ---------------------------------------------------------------------------------
    def forward(self, raw_batch: Any, *, grad: bool = False) -> Forward:
        """Run the user's forward on one batch (counted), returning outputs and targets."""
        self.checkpoint()
        if self.notes.get("unsafe_inputs"):
            raise SkipCheck("token ids outside the embedding table (RD109) would crash the forward pass")
        batch_on_device = move_batch(raw_batch, self.device)
        context = torch.enable_grad() if grad else torch.no_grad()
        self.forward_passes += 1
        with context:
            if self.forward_fn is not None:
                try:
                    result = self.forward_fn(self.model, batch_on_device)
                except (Exception, SystemExit) as exc:
                    raise UserCodeError("forward", exc) from exc
                if not isinstance(result, (tuple, list)) or len(result) != 2:
                    raise UserCodeError(
                        "forward",
                        TypeError(f"the forward function must return (outputs, targets), got {type(result).__name__}"),
                    )
                return Forward(result[0], result[1], None)
            try:
                batch = unpack(batch_on_device)
            except BatchFormatError as exc:
                raise UnusableData(f"batches are not in a supported layout: {exc}") from exc
            if self.device.type == "cuda":
                self._guard_token_ids(raw_batch)
            args = (batch.inputs,) if batch.lengths is None else (batch.inputs, batch.lengths)
            try:
                outputs = first_output(self.model(*args))
            except (Exception, SystemExit) as exc:
                raise UserCodeError("forward", exc) from exc
            return Forward(outputs, batch.targets, batch)

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
            inputs = unpack(raw_batch).inputs
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

    def reference(self) -> Forward:
        """One forward pass on the first training batch in eval mode, shared by every check."""
        if self._reference is None:
            raw = self.sample("train").batches[0]
            was_training = self.model.training
            self.model.eval()
            try:
                self._reference = self.forward(raw, grad=False)
            finally:
                self.model.train(was_training)
        return self._reference

"""Where the samples are: which axis of a batch holds them, how long each sequence is, and how outputs and
targets map back to samples.

PyTorch's recurrent layers default to time-major ``(T, N, ...)`` tensors, DataLoaders stack batch-first
``(N, T, ...)`` ones, and language models flatten ``(T·N, V)``. Every check that cuts a batch to a few
samples, probes one sample's output or reads sequence lengths asks this module, so they all agree.

The layout is decided from evidence in the data first (the targets' or lengths' size, where padding sits,
the axis along which targets are the next input token, a DataLoader that stacks samples on axis 0), then
from the recurrent layers' declared ``batch_first``: a layer declared the wrong way round must not convince
rnndoctor that the data are the wrong way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.setup.config import AUTO, BATCH_FIRST, TIME_FIRST

SINGLE = "single_sequence"

DECLARED_BY_LAYER = "the recurrent layer's batch_first"
"""The start of the reason when no evidence in the data decided the layout and the model's layer did."""

NEXT_TOKEN_AGREEMENT = 0.9
"""Share of positions where the target is the next input token, for that axis to count as time."""

AXIS0 = "samples on axis 0"
AXIS1 = "samples on axis 1"
FLAT_BATCH_FIRST = "flattened (N·T) rows"
FLAT_TIME_FIRST = "flattened (T·N) rows"
ONE_SEQUENCE = "one sequence"


@dataclass(frozen=True)
class SampleView:
    """How one tensor (outputs or targets) is arranged relative to the batch's samples."""

    arrangement: str
    samples: int
    steps: int | None
    """Time steps of this tensor (None when it holds one value or one vector per sample)."""
    time_axis: int | None
    """The time axis in the canonical form (samples on axis 0)."""

    def canonical(self, z: torch.Tensor) -> torch.Tensor:
        """The tensor with samples on axis 0 (a view: gradients flow through it)."""
        if self.arrangement == AXIS1:
            return z.movedim(1, 0)
        if self.arrangement == FLAT_BATCH_FIRST:
            return z.reshape(self.samples, -1, *z.shape[1:])
        if self.arrangement == FLAT_TIME_FIRST:
            return z.reshape(-1, self.samples, *z.shape[1:]).movedim(1, 0)
        if self.arrangement == ONE_SEQUENCE:
            return z.unsqueeze(0)
        return z

    def take(self, z: torch.Tensor, count: int) -> torch.Tensor:
        """The first ``count`` samples, in the tensor's own arrangement."""
        count = min(count, self.samples)
        if self.arrangement == AXIS1:
            return z[:, :count]
        if self.arrangement == FLAT_BATCH_FIRST:
            return z[: count * (z.shape[0] // self.samples)]
        if self.arrangement == FLAT_TIME_FIRST:
            rest = z.shape[1:]
            return z.reshape(-1, self.samples, *rest)[:, :count].reshape(-1, *rest)
        if self.arrangement == ONE_SEQUENCE:
            return z
        return z[:count]


@dataclass(frozen=True)
class Layout:
    """The arrangement of the tensor the model receives as its input."""

    kind: str
    samples: int
    steps: int | None
    reason: str

    @property
    def batch_axis(self) -> int | None:
        return {BATCH_FIRST: 0, TIME_FIRST: 1}.get(self.kind)

    @property
    def time_axis(self) -> int | None:
        if self.steps is None:
            return None
        return 1 if self.kind == BATCH_FIRST else 0

    @property
    def from_layer(self) -> bool:
        """Decided by the recurrent layer's own flag, with nothing in the data to check it against."""
        return self.reason.startswith(DECLARED_BY_LAYER)

    @property
    def label(self) -> str:
        return {TIME_FIRST: "time-major", SINGLE: "one unbatched sequence"}.get(self.kind, "batch-first")

    def describe(self) -> str:
        shape = f"N={self.samples}" + (f", T={self.steps}" if self.steps is not None else "")
        return f"{self.label} ({shape}; {self.reason})"

    def resized(self, x: Any) -> Layout:
        """The same arrangement read off another input tensor (a smaller last batch, extended padding)."""
        if isinstance(x, torch.nn.utils.rnn.PackedSequence):
            return Layout(self.kind, int(x.batch_sizes[0]), int(x.batch_sizes.numel()), self.reason)
        if not isinstance(x, torch.Tensor) or x.dim() == 0:
            return self
        if self.kind == SINGLE:
            return Layout(SINGLE, 1, int(x.shape[0]), self.reason)
        axis = self.batch_axis or 0
        time = self.time_axis
        if x.dim() <= axis:
            return self
        steps = int(x.shape[time]) if time is not None and x.dim() > time else None
        return Layout(self.kind, int(x.shape[axis]), steps, self.reason)

    def batch_first(self, x: torch.Tensor) -> torch.Tensor:
        """An input-shaped tensor with samples on axis 0 and time steps on axis 1."""
        if self.kind == TIME_FIRST:
            return x.transpose(0, 1)
        if self.kind == SINGLE:
            return x.unsqueeze(0)
        return x

    def take(self, x: torch.Tensor, count: int) -> torch.Tensor:
        """The first ``count`` samples of an input-shaped tensor."""
        axis = self.batch_axis
        if axis is None:
            return x
        return x.narrow(axis, 0, min(count, int(x.shape[axis])))

    def extend_time(self, x: torch.Tensor, added: int, fill: float) -> torch.Tensor:
        """The input with ``added`` steps of ``fill`` appended to every sequence."""
        axis = self.time_axis
        assert axis is not None
        shape = list(x.shape)
        shape[axis] = added
        return torch.cat([x, torch.full(shape, fill, dtype=x.dtype, device=x.device)], dim=axis)

    def view(
        self, z: Any, *, steps: tuple[int, ...] = (), class_axis: int | None = None, per_sample: bool = False
    ) -> SampleView | None:
        """How ``z`` (outputs or targets) maps to this batch's samples, or None when it cannot be told.

        ``steps`` are other plausible sequence lengths (the targets' for the outputs); ``class_axis`` an axis
        known to hold classes, never taken for time; ``per_sample`` says the task has one target per sample.
        """
        z = primary_tensor(z)
        if z is None or z.dim() == 0:
            return None
        n = self.samples
        lengths = {s for s in (self.steps, *steps) if s}
        shape = tuple(z.shape)
        if self.kind == SINGLE:
            return SampleView(ONE_SEQUENCE, 1, shape[0], 1)
        time_major_rows = len(shape) >= 2 and shape[1] == n and shape[0] in lengths and not per_sample
        if self.kind == TIME_FIRST and time_major_rows and not (shape[0] == n and per_sample):
            return SampleView(AXIS1, n, shape[0], 1)
        if shape[0] == n:
            axis = next(
                (a for a in range(1, len(shape)) if shape[a] in lengths and a != class_axis and not per_sample), None
            )
            return SampleView(AXIS0, n, shape[axis] if axis is not None else None, axis)
        if time_major_rows:
            return SampleView(AXIS1, n, shape[0], 1)
        if n > 0 and len(shape) <= 2 and shape[0] % n == 0 and shape[0] > n:
            arrangement = FLAT_TIME_FIRST if self.kind == TIME_FIRST else FLAT_BATCH_FIRST
            return SampleView(arrangement, n, shape[0] // n, 1)
        return None


def primary_tensor(value: Any) -> torch.Tensor | None:
    """The tensor that stands for a model's outputs: itself, or the first tensor in a tuple, list or dict
    (outputs handed to a loss together with lengths, as CTC takes them)."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, (tuple, list)) else ()
    return next((item for item in items if isinstance(item, torch.Tensor)), None)


# ---------------------------------------------------------------------------------------------
# inference
# ---------------------------------------------------------------------------------------------


def infer_layout(
    inputs: Any,
    *,
    targets: Any = None,
    lengths: Any = None,
    declared: str = AUTO,
    recurrent_batch_first: bool | None = None,
    loader_batch_first: bool = False,
    pad_id: int | None = None,
    sequential: bool = True,
    recurrent_batch: int | None = None,
) -> Layout | None:
    """Decide the layout of ``inputs`` (None when they are not one tensor).

    ``sequential`` is False for models without recurrent layers: a 2-D float input is then (N, features).
    ``recurrent_batch`` is how many sequences the model's recurrent layers received on this batch: one
    sequence fed whole (a tutorial's name or sentence at a time) is one sample, however many per-step targets
    it has.
    """
    if isinstance(inputs, torch.nn.utils.rnn.PackedSequence):
        sizes = inputs.batch_sizes
        return Layout(BATCH_FIRST, int(sizes[0]), int(sizes.numel()), "a PackedSequence")
    if not isinstance(inputs, torch.Tensor) or inputs.dim() == 0:
        return None
    if inputs.dim() == 1:
        if sequential and (not isinstance(targets, torch.Tensor) or targets.dim() == 0 or len(targets) != 1):
            return Layout(SINGLE, 1, int(inputs.shape[0]), "1-D inputs: one sequence per batch")
        return Layout(BATCH_FIRST, int(inputs.shape[0]), None, "1-D inputs")
    has_time = sequential or inputs.dim() >= 3 or not inputs.is_floating_point()
    if declared in (BATCH_FIRST, TIME_FIRST):
        return _layout(inputs, 0 if declared == BATCH_FIRST else 1, "layout: in the config", has_time)
    for evidence in (
        _from_lengths(inputs, lengths),
        _from_single_sequence(inputs, recurrent_batch),
        _from_targets(inputs, targets),
        _from_padding(inputs, pad_id),
        _from_next_token(inputs, targets),
    ):
        if evidence is not None:
            return _layout(inputs, *evidence, has_time)
    if loader_batch_first:
        return _layout(inputs, 0, "the DataLoader stacks samples on axis 0", has_time)
    unit = _from_unit_axis(inputs) if sequential else None
    if unit is not None:
        return _layout(inputs, *unit, has_time)
    if recurrent_batch_first is not None:
        flag = f"{DECLARED_BY_LAYER}={recurrent_batch_first}"
        return _layout(inputs, 0 if recurrent_batch_first else 1, flag, has_time)
    return _layout(inputs, 0, "batch-first by default", has_time)


def _layout(inputs: torch.Tensor, batch_axis: int, reason: str, has_time: bool) -> Layout:
    kind = BATCH_FIRST if batch_axis == 0 else TIME_FIRST
    steps = int(inputs.shape[1 - batch_axis]) if has_time else None
    return Layout(kind, int(inputs.shape[batch_axis]), steps, reason)


def _size(value: Any) -> int | None:
    if isinstance(value, torch.Tensor):
        return int(value.shape[0]) if value.dim() == 1 else None
    if isinstance(value, Sequence) and not isinstance(value, str):
        return len(value)
    return None


def _one_of(inputs: torch.Tensor, size: int | None) -> int | None:
    n0, n1 = int(inputs.shape[0]), int(inputs.shape[1])
    if size is None or n0 == n1:
        return None
    return 0 if size == n0 else 1 if size == n1 else None


def _from_lengths(inputs: torch.Tensor, lengths: Any) -> tuple[int, str] | None:
    axis = _one_of(inputs, _size(lengths))
    return None if axis is None else (axis, "the lengths' size")


def _from_single_sequence(inputs: torch.Tensor, recurrent_batch: int | None) -> tuple[int, str] | None:
    """The recurrent layers saw one sequence and one of the input's first two axes has size 1: that one.
    (A larger batch the layers saw is no evidence: a layer fed the wrong axis, RD202, sees the wrong size.)"""
    if recurrent_batch != 1:
        return None
    axis = _one_of(inputs, 1)
    return None if axis is None else (axis, "the recurrent layers receive one sequence")


def _from_unit_axis(inputs: torch.Tensor) -> tuple[int, str] | None:
    """A sequence batch whose first two axes are 1 and N is one sequence of N steps: data pipelines make
    batches of sequences longer than one step, and a batch of N one-step sequences gives a recurrent layer
    nothing to recur over. (Checked after the targets, which tell a batch of N one-step samples apart.)"""
    if inputs.dim() < 3 or not inputs.is_floating_point():
        return None
    axis = _one_of(inputs, 1)
    return None if axis is None else (axis, "one sequence per batch (its other axis has size 1)")


def _from_targets(inputs: torch.Tensor, targets: Any) -> tuple[int, str] | None:
    if not isinstance(targets, torch.Tensor) or targets.dim() == 0:
        return None
    if targets.dim() >= 2 and tuple(targets.shape[:2]) == tuple(inputs.shape[:2]):
        return None  # per-step targets arranged like the inputs say nothing about which axis is which
    axis = _one_of(inputs, int(targets.shape[0]))
    return None if axis is None else (axis, "the targets' batch size")


def _from_padding(inputs: torch.Tensor, pad_id: int | None) -> tuple[int, str] | None:
    """The axis along which padding forms trailing runs of varying length is time."""
    if inputs.dim() == 2 and not inputs.is_floating_point():
        pad = 0 if pad_id is None else pad_id
        mask = inputs == pad
    elif inputs.dim() == 3 and inputs.is_floating_point():
        mask = (inputs == 0).all(dim=-1)
    else:
        return None
    if not bool(mask.any()) or bool(mask.all()):
        return None
    trailing = [axis for axis in (0, 1) if _trailing_runs(mask, axis)]
    if len(trailing) != 1:
        return None
    return 1 - trailing[0], "where the padding sits"


MIN_PADDED_ROWS = 2
"""Padding is evidence of the time axis when it ends at least two samples, or ends one sample with a run of
at least two pad tokens: a single token that happens to equal the pad id and to sit at the end of one row
does so by chance (1 in the axis' length)."""


def _trailing_runs(mask: torch.Tensor, time_axis: int) -> bool:
    counts = mask.sum(dim=time_axis)
    varied = int(counts.min()) != int(counts.max())
    padded = int((counts > 0).sum())
    convincing = padded >= MIN_PADDED_ROWS or int(counts.max()) >= 2
    return varied and convincing and bool((mask.int().diff(dim=time_axis) >= 0).all())


def _from_next_token(inputs: torch.Tensor, targets: Any) -> tuple[int, str] | None:
    """Language-model targets are the next input token along the time axis."""
    if inputs.dim() != 2 or inputs.is_floating_point() or not isinstance(targets, torch.Tensor):
        return None
    if targets.is_floating_point() or targets.numel() != inputs.numel():
        return None
    y = targets.reshape(inputs.shape)
    agreement = [
        float((inputs[1:] == y[:-1]).double().mean()) if inputs.shape[0] > 1 else 0.0,
        float((inputs[:, 1:] == y[:, :-1]).double().mean()) if inputs.shape[1] > 1 else 0.0,
    ]
    along = [axis for axis in (0, 1) if agreement[axis] >= NEXT_TOKEN_AGREEMENT]
    if len(along) != 1:
        return None
    return 1 - along[0], "the targets are the next token along the other axis"


def loader_stacks_batch_first(loader: Any) -> bool:
    """A DataLoader batching samples with the default collate function puts them on axis 0."""
    try:
        from torch.utils.data import DataLoader, default_collate
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(loader, DataLoader) and loader.batch_size is not None and loader.collate_fn is default_collate


# ---------------------------------------------------------------------------------------------
# sequence lengths
# ---------------------------------------------------------------------------------------------


def valid_lengths(
    inputs: torch.Tensor, layout: Layout, lengths: Any, pad_id: int | None
) -> tuple[list[int], str] | None:
    """Per-sample sequence lengths, from explicit lengths, padding tokens or trailing all-zero steps."""
    if layout.steps is None or layout.kind == SINGLE:
        return None
    steps = layout.steps
    x = layout.batch_first(inputs)
    if lengths is not None:
        values = torch.as_tensor(lengths).reshape(-1).tolist()
        if len(values) == x.shape[0]:
            return [min(int(n), steps) for n in values], "explicit lengths"
    if not inputs.is_floating_point() and pad_id is not None and x.dim() == 2:
        is_pad = x == pad_id
        source = f"padding id {pad_id}"
    elif inputs.is_floating_point() and x.dim() == 3:
        is_pad = (x == 0).all(dim=-1)
        source = "trailing all-zero steps"
    else:
        return None
    trailing = is_pad.flip(1).int().cumprod(dim=1).sum(dim=1)
    found = (steps - trailing).tolist()
    if len(set(found)) <= 1 and min(found) == steps:
        return [steps] * len(found), "no padding found"
    return [int(n) for n in found], source


IMPLICIT_PAD = 0
"""The token id pad_sequence fills with, read as padding only where it behaves like padding."""
MIN_PADDED_SAMPLES = 0.1
"""Implicit padding: at least this share of the batch's sequences ends in a run of it..."""
MAX_INTERIOR_SHARE = 0.01
"""...and it makes up at most this share of the positions before those runs (a real token is not so rare)."""


def sequence_lengths(
    inputs: torch.Tensor, layout: Layout, lengths: Any, pad_id: int | None
) -> tuple[list[int], str] | None:
    """`valid_lengths`, and for token ids with no declared padding id, trailing runs of token 0 when they
    look like padding (many sequences end in them, and the token hardly occurs anywhere else)."""
    found = valid_lengths(inputs, layout, lengths, pad_id)
    if found is not None or inputs.is_floating_point() or pad_id is not None or lengths is not None:
        return found
    found = valid_lengths(inputs, layout, None, IMPLICIT_PAD)
    if found is None or found[1] == "no padding found" or layout.steps is None:
        return found
    x = layout.batch_first(inputs)
    valid = torch.arange(layout.steps)[None, :] < torch.tensor(found[0])[:, None]
    padded_samples = sum(1 for n in found[0] if n < layout.steps)
    interior = float((x[valid] == IMPLICIT_PAD).double().mean()) if bool(valid.any()) else 1.0
    if padded_samples < max(2, MIN_PADDED_SAMPLES * len(found[0])) or interior > MAX_INTERIOR_SHARE:
        return [layout.steps] * len(found[0]), "no padding found"
    return found[0], f"trailing runs of token {IMPLICIT_PAD} (pad_sequence's fill)"


def padding_id(model: torch.nn.Module) -> int | None:
    """The first embedding's ``padding_idx``."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Embedding, torch.nn.EmbeddingBag)) and module.padding_idx is not None:
            return int(module.padding_idx)
    return None


def take_samples(raw: Any, layout: Layout, keys: tuple[Any, Any], targets_view: SampleView | None, count: int) -> Any:
    """The batch container with every tensor cut to its first ``count`` samples: the inputs (at ``keys[0]``)
    along the layout's batch axis, the targets (at ``keys[1]``) by their view, lengths and other per-sample
    tensors along the axis that has the batch's size."""
    n = layout.samples

    def cut(key: Any, value: Any) -> Any:
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            return value
        if key == keys[0]:
            return layout.take(value, count).contiguous()
        if key == keys[1] and targets_view is not None:
            return targets_view.take(value, count).contiguous()
        if layout.batch_axis == 1 and value.dim() >= 2 and value.shape[1] == n and value.shape[0] != n:
            return value[:, :count].contiguous()
        return value[:count] if value.shape[0] == n else value

    if isinstance(raw, Mapping):
        return {k: cut(k, v) for k, v in raw.items()}
    items = [cut(i, v) for i, v in enumerate(raw)]
    if isinstance(raw, list):
        return items
    if hasattr(raw, "_fields"):
        return type(raw)(*items)
    return tuple(items)


LOOKUPS = (torch.nn.Embedding, torch.nn.EmbeddingBag)


def embedding_tables(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The model's lookup tables, by name."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LOOKUPS)]


def multiplied_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters inputs are multiplied by: all but lookup tables, which are indexed. A table tied to
    an output layer (weight tying) is multiplied there, so it counts."""
    owned = {id(p): p for m in model.modules() if not isinstance(m, LOOKUPS) for p in m.parameters(recurse=False)}
    return list(owned.values())


def ids_outside_table(ids: Any, rows: int) -> bool:
    """Whether a tensor of token ids holds an id a table of ``rows`` rows cannot look up."""
    if not isinstance(ids, torch.Tensor) or not ids.numel() or ids.is_floating_point() or ids.dtype == torch.bool:
        return False
    return int(ids.min()) < 0 or int(ids.max()) >= rows


def embedding_rows(table: torch.nn.Module) -> int:
    return int(getattr(table, "num_embeddings", 0))

"""Batch conventions (contract §3) and bounded sampling of the user's loaders."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BATCH_KEYS = ("inputs", "targets", "lengths")


class BatchFormatError(ValueError):
    """A batch is not one of the shapes the contract describes."""


@dataclass
class Batch:
    """One batch as it came from the loader, with its parts named."""

    raw: Any
    inputs: Any
    targets: Any
    lengths: Any = None
    slots: tuple[Any, Any, Any] = (0, 1, 2)
    """Where inputs, targets and lengths sit in ``raw``: tuple indices or dict keys."""

    @property
    def size(self) -> int | None:
        """Number of samples, read from the targets (whose first axis is always the batch)."""
        shape = getattr(self.targets, "shape", None)
        if shape is not None and len(shape) > 0:
            return int(shape[0])
        return None


def unpack(raw: Any, keys: Mapping[str, str] | None = None) -> Batch:
    """Name the parts of a batch: ``(inputs, targets)``, ``(inputs, targets, lengths)`` or a dict whose
    keys are ``inputs``/``targets``/``lengths``, or the keys ``keys`` maps those names to (``batch_keys``)."""
    if isinstance(raw, Mapping):
        names = {role: (keys or {}).get(role, role) for role in BATCH_KEYS}
        missing = [names[k] for k in ("inputs", "targets") if names[k] not in raw]
        if missing:
            hint = "" if keys else "; map your keys with batch_keys: {inputs: ..., targets: ...} in the config"
            raise BatchFormatError(
                f"a dict batch needs the keys '{names['inputs']}' and '{names['targets']}' (missing "
                f"{', '.join(map(str, missing))}; found {', '.join(map(str, raw))}){hint}"
            )
        slots = (names["inputs"], names["targets"], names["lengths"])
        return Batch(raw, raw[slots[0]], raw[slots[1]], raw.get(slots[2]), slots)
    if isinstance(raw, (tuple, list)):
        if len(raw) == 2:
            return Batch(raw, raw[0], raw[1])
        if len(raw) == 3:
            return Batch(raw, raw[0], raw[1], raw[2])
        raise BatchFormatError(
            f"a batch must be (inputs, targets) or (inputs, targets, lengths); got a {type(raw).__name__} "
            f"of {len(raw)} items (give a 'forward' function in the config for other layouts)"
        )
    raise BatchFormatError(
        f"a batch must be a tuple, list or dict; got {type(raw).__name__} "
        "(give a 'forward' function in the config for other layouts)"
    )


def replace_part(batch: Batch, slot: int, value: Any) -> Any:
    """The raw batch with its inputs (slot 0), targets (1) or lengths (2) swapped for ``value``."""
    raw, key = batch.raw, batch.slots[slot]
    if isinstance(raw, Mapping):
        return {**raw, key: value}
    items = list(raw)
    items[key] = value
    return _same_sequence_type(raw, items)


def move_batch(raw: Any, device: Any, lengths_key: str = "lengths") -> Any:
    """Move a batch's tensors to ``device``, leaving lengths where they are.

    ``pack_padded_sequence`` wants its lengths on the CPU, which is where training loops keep them.
    """
    if isinstance(raw, Mapping):
        return {k: v if k == lengths_key else move_tensors(v, device) for k, v in raw.items()}
    if isinstance(raw, (tuple, list)) and len(raw) == 3:
        return _same_sequence_type(raw, [move_tensors(raw[0], device), move_tensors(raw[1], device), raw[2]])
    return move_tensors(raw, device)


def move_tensors(obj: Any, device: Any) -> Any:
    import torch

    if isinstance(obj, (torch.Tensor, torch.nn.utils.rnn.PackedSequence)):
        return obj.to(device)
    if isinstance(obj, Mapping):
        return {k: move_tensors(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return _same_sequence_type(obj, [move_tensors(v, device) for v in obj])
    return obj


def detach_tensors(obj: Any) -> Any:
    """The batch with tensors that require grad detached, so the diagnosis' backward passes never leave
    gradients on the caller's data; other objects are returned as they are."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach() if obj.requires_grad else obj
    if isinstance(obj, Mapping):
        return {k: detach_tensors(v) for k, v in obj.items()} if _any_requires_grad(obj) else obj
    if isinstance(obj, (tuple, list)) and not isinstance(obj, torch.nn.utils.rnn.PackedSequence):
        return _same_sequence_type(obj, [detach_tensors(v) for v in obj]) if _any_requires_grad(obj) else obj
    return obj


def _any_requires_grad(obj: Any) -> bool:
    import torch

    if isinstance(obj, torch.Tensor):
        return bool(obj.requires_grad)
    if isinstance(obj, Mapping):
        return any(_any_requires_grad(v) for v in obj.values())
    if isinstance(obj, (tuple, list)):
        return any(_any_requires_grad(v) for v in obj)
    return False


def _same_sequence_type(original: Sequence[Any], items: list[Any]) -> Any:
    if isinstance(original, list):
        return items
    if hasattr(original, "_fields"):
        return type(original)(*items)
    return tuple(items)


@dataclass
class Sample:
    """The batches a run may look at, and how they were drawn from the loader."""

    batches: list[Any] = field(default_factory=list)
    exhausted: bool = False
    """True when the sample holds the whole loader."""
    total_batches: int | None = None
    method: str = "first"
    seconds: float = 0.0

    @property
    def coverage(self) -> float | None:
        """Share of the loader's batches in the sample, when the loader's length is known."""
        if self.exhausted:
            return 1.0
        if self.total_batches:
            return min(1.0, len(self.batches) / self.total_batches)
        return None

    def describe(self) -> str:
        if self.exhausted:
            return f"all {len(self.batches)} batches"
        if self.method == "random" and self.total_batches:
            return f"{len(self.batches)} random batches of {self.total_batches}"
        return f"the first {len(self.batches)} batches"


def draw_sample(
    data: Any, max_batches: int, rng: random.Random, *, checkpoint: Callable[[], None] | None = None
) -> Sample:
    """Take at most ``max_batches`` batches from ``data`` without iterating it to the end.

    A loader that reads its dataset in order (no shuffling) is sampled at random indices instead of
    taking its first batches, which in a dataset sorted by label would all hold one class.
    """
    started = time.perf_counter()
    sample = _draw(data, max_batches, rng, checkpoint or (lambda: None))
    sample.seconds = time.perf_counter() - started
    return sample


def _draw(data: Any, max_batches: int, rng: random.Random, checkpoint: Callable[[], None]) -> Sample:
    total = _length(data)
    if total is not None and total <= max_batches:
        batches = _take(iter(data), max_batches + 1, checkpoint)
        return Sample(batches, exhausted=len(batches) <= max_batches, total_batches=len(batches), method="all")
    ordered = _ordered_map_style_loader(data)
    if ordered is not None and total is not None:
        return _random_from_dataset(ordered, max_batches, total, rng, checkpoint)
    if isinstance(data, Sequence) and total is not None:
        indices = sorted(rng.sample(range(total), max_batches))
        batches = []
        for index in indices:
            checkpoint()
            batches.append(data[index])
        return Sample(batches, total_batches=total, method="random")
    batches = _take(iter(data), max_batches + 1, checkpoint)
    exhausted = len(batches) <= max_batches
    return Sample(
        batches[:max_batches],
        exhausted=exhausted,
        total_batches=total if not exhausted else len(batches),
        method="first" if not exhausted else "all",
    )


def _take(iterator: Iterator[Any], count: int, checkpoint: Callable[[], None]) -> list[Any]:
    batches = []
    for batch in itertools.islice(iterator, count):
        batches.append(batch)
        checkpoint()
    return batches


def rereadable(data: Any) -> bool:
    """Whether iterating ``data`` again yields the same batches: a sequence, or a DataLoader over a map-style
    dataset. Generators, streams and iterable datasets may be one-shot (or yield new data each time), so
    for them the sample drawn once is all a run may use."""
    if isinstance(data, Sequence):
        return True
    try:
        from torch.utils.data import DataLoader, IterableDataset
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(data, DataLoader) and not isinstance(data.dataset, IterableDataset)


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except Exception:  # noqa: BLE001 - IterableDataset loaders raise TypeError, others anything
        return None


def _ordered_map_style_loader(data: Any) -> Any:
    """The loader itself when it reads a map-style dataset in index order with a fixed batch size."""
    try:
        from torch.utils.data import DataLoader, SequentialSampler
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    if not isinstance(data, DataLoader) or data.batch_size is None:
        return None
    if not isinstance(data.sampler, SequentialSampler):
        return None
    dataset = data.dataset
    if not hasattr(dataset, "__getitem__") or _length(dataset) is None:
        return None
    return data


def _random_from_dataset(
    loader: Any, max_batches: int, total: int, rng: random.Random, checkpoint: Callable[[], None]
) -> Sample:
    dataset = loader.dataset
    size = len(dataset)
    batch_size = int(loader.batch_size)
    wanted = min(size, max_batches * batch_size)
    indices = rng.sample(range(size), wanted)
    batches = []
    for start in range(0, wanted, batch_size):
        checkpoint()
        items = [dataset[i] for i in indices[start : start + batch_size]]
        batches.append(loader.collate_fn(items))
    return Sample(batches, total_batches=total, method="random")


def first_output(result: Any) -> Any:
    """Models that return ``(output, hidden)`` have their output first (contract §3); models that return a dict
    or an output object (Hugging Face style) have it under ``logits``, or as a dict's only tensor."""
    import torch

    if isinstance(result, (tuple, list)) and result:
        return result[0]
    if isinstance(result, Mapping):
        if isinstance(result.get("logits"), torch.Tensor):
            return result["logits"]
        tensors = [value for value in result.values() if isinstance(value, torch.Tensor)]
        return tensors[0] if len(tensors) == 1 else result
    logits = getattr(result, "logits", None)
    if not isinstance(result, torch.Tensor) and isinstance(logits, torch.Tensor):
        return logits
    return result

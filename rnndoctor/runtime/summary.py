"""What the report says about the model itself: its layers, their parameters and the shapes they saw on a real
batch (as Lightning's ModelSummary does), where its class is written, and which layer first turned a batch
into NaN or Inf."""

from __future__ import annotations

import contextlib
import inspect
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnndoctor.runtime.recurrence import unwrap

MAX_ROWS = 30
"""Layers listed at most; a deeper or wider model is summarized by its top-level children."""


def _shape(value: Any) -> list[int] | None:
    """The shape of a tensor, of a packed sequence's data, or of the first tensor of a tuple (an RNN's output)."""
    if isinstance(value, nn.utils.rnn.PackedSequence):
        value = value.data
    if isinstance(value, (tuple, list)) and value:
        return _shape(value[0])
    if isinstance(value, dict):
        tensors = [v for v in value.values() if isinstance(v, torch.Tensor)]
        return _shape(tensors[0]) if tensors else None
    return [int(n) for n in value.shape] if isinstance(value, torch.Tensor) else None


class ShapeRecorder:
    """Forward hooks recording the input and output shape of each module's first call."""

    def __init__(self) -> None:
        self.shapes: dict[str, tuple[list[int] | None, list[int] | None]] = {}

    @contextlib.contextmanager
    def recording(self, model: nn.Module) -> Iterator[None]:
        handles = [
            module.register_forward_hook(self._hook(name))
            for name, module in unwrap(model).named_modules()
            if name and name.count(".") < 2
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if name not in self.shapes:
                self.shapes[name] = (_shape(args), _shape(output))

        return hook


def _rows_of(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers listed: the top-level children, or, under a single wrapper child, its children."""
    children = list(model.named_children())
    if len(children) == 1 and list(children[0][1].named_children()):
        prefix, wrapper = children[0]
        children = [(f"{prefix}.{name}", child) for name, child in wrapper.named_children()]
    return children[:MAX_ROWS]


def summarize(model: nn.Module, shapes: dict[str, tuple[list[int] | None, list[int] | None]]) -> dict[str, Any]:
    """The model's summary for the report: class, source, parameter counts and one row per layer."""
    inner = unwrap(model)
    parameters = list(inner.parameters())
    rows = []
    for name, module in _rows_of(inner):
        own = list(module.parameters())
        seen_in, seen_out = shapes.get(name, (None, None))
        rows.append(
            {
                "name": name,
                "type": type(module).__name__,
                "parameters": sum(p.numel() for p in own),
                "trainable": sum(p.numel() for p in own if p.requires_grad),
                "input": seen_in,
                "output": seen_out,
            }
        )
    return {
        "class": type(inner).__name__,
        **source_of(inner),
        "parameters": sum(p.numel() for p in parameters),
        "trainable": sum(p.numel() for p in parameters if p.requires_grad),
        "layers": rows,
    }


def source_of(model: nn.Module) -> dict[str, Any]:
    """The file and line of the model's class when it is the user's code (not torch's or a library's)."""
    cls = type(model)
    try:
        file = inspect.getsourcefile(cls)
        _, line = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    if file is None or _installed(Path(file)):
        return {}
    return {"file": str(Path(file).resolve()), "line": int(line)}


def _installed(path: Path) -> bool:
    """Whether a file belongs to an installed package (site-packages, the standard library), not the user."""
    resolved = str(path.resolve())
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return (
        "site-packages" in resolved
        or "dist-packages" in resolved
        or any(resolved.startswith(str(Path(prefix).resolve()) + "/lib") for prefix in prefixes)
    )


def first_non_finite(model: nn.Module, run: Any) -> str | None:
    """The first module, in the order the forward pass runs them, whose output holds NaN or Inf while its
    inputs are finite: where the non-finite values are made. ``run`` runs one forward pass."""
    found: list[str] = []

    def hook(name: str) -> Any:
        def check(module: nn.Module, args: Any, output: Any) -> None:
            if found or next(module.children(), None) is not None:
                return
            if not _finite(args) or _finite(output):
                return
            found.append(name or type(module).__name__)

        return check

    handles = [module.register_forward_hook(hook(name)) for name, module in unwrap(model).named_modules()]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return found[0] if found else None


def _finite(value: Any) -> bool:
    if isinstance(value, nn.utils.rnn.PackedSequence):
        value = value.data
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() or bool(torch.isfinite(value).all())
    if isinstance(value, (tuple, list)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def first_non_finite_backward(model: nn.Module, run: Any) -> str | None:
    """The module whose backward pass first turns a finite gradient into NaN or Inf (``run`` runs a forward
    and a backward pass): the gradients reaching its output are finite, those it passes on are not. "the
    loss" when the gradient is non-finite from the start."""
    arrivals: list[tuple[str, bool]] = []

    def hook(name: str) -> Any:
        def watch(module: nn.Module, args: Any, output: Any) -> None:
            first = output[0] if isinstance(output, (tuple, list)) and output else output
            if next(module.children(), None) is None and isinstance(first, torch.Tensor) and first.requires_grad:
                first.register_hook(lambda grad: arrivals.append((name, bool(torch.isfinite(grad).all()))))  # type: ignore[no-untyped-call]

        return watch

    handles = [module.register_forward_hook(hook(name)) for name, module in unwrap(model).named_modules() if name]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    if not arrivals:
        return None
    if not arrivals[0][1]:
        return "the loss"
    for (name, finite), (_, following) in itertools.pairwise(arrivals):
        if finite and not following:
            return name
    return None

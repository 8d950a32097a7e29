"""Snapshot and restore everything a diagnosis may touch: weights, grads, modes, optimizer, RNGs.

A check is free to train the model, register hooks or flip modes; `restore` puts every bit back.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_MODULE_INTERNALS = ("_parameters", "_buffers", "_modules")


@dataclass
class RngState:
    python: Any
    numpy: Any
    torch_cpu: torch.Tensor
    torch_cuda: list[torch.Tensor] | None

    @classmethod
    def capture(cls) -> RngState:
        cuda_ready = torch.cuda.is_available() and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        cuda = torch.cuda.get_rng_state_all() if cuda_ready else None
        return cls(random.getstate(), np.random.get_state(), torch.random.get_rng_state(), cuda)

    def restore(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.random.set_rng_state(self.torch_cpu)
        if self.torch_cuda is not None:
            torch.cuda.set_rng_state_all(self.torch_cuda)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class ModelState:
    """A copy of one model's (and optionally one optimizer's) mutable state.

    Restoring writes back only what changed since the snapshot, told by each tensor's version counter
    (bumped by every in-place write) and storage: after a check that only reads the model (data,
    structure, probes) nothing is copied, so large models are not copied a dozen times per run.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        self.model = model
        self.optimizer = optimizer
        with torch.no_grad():
            self.parameters = {name: p.detach().clone() for name, p in model.named_parameters()}
            self.buffers = {
                name: b.detach().clone() for name, b in model.named_buffers() if isinstance(b, torch.Tensor)
            }
            self.grads = {
                name: None if p.grad is None else p.grad.detach().clone() for name, p in model.named_parameters()
            }
        self.marks = {f"p:{n}": _mark(p) for n, p in model.named_parameters()}
        self.marks.update({f"b:{n}": _mark(b) for n, b in model.named_buffers() if isinstance(b, torch.Tensor)})
        self.grad_marks = {n: _mark(p.grad) for n, p in model.named_parameters()}
        self.requires_grad = {name: p.requires_grad for name, p in model.named_parameters()}
        self.attributes = [(module, _plain_attributes(module)) for module in model.modules()]
        self.optimizer_snapshot = OptimizerState(optimizer) if optimizer is not None else None

    def restore(self) -> None:
        for module, attributes in self.attributes:
            current = vars(module)
            for key in [k for k in current if k not in attributes and k not in _MODULE_INTERNALS]:
                del current[key]
            for key, value in attributes.items():
                current[key] = copy.copy(value) if isinstance(value, dict) else value
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                if name in self.parameters:
                    key = f"p:{name}"
                    if _mark(p) != self.marks[key]:
                        _copy_into(p, self.parameters[name])
                        self.marks[key] = _mark(p)
                    p.requires_grad_(self.requires_grad[name])
                    if _mark(p.grad) != self.grad_marks[name]:
                        grad = self.grads[name]
                        p.grad = None if grad is None else grad.clone()
                        self.grad_marks[name] = _mark(p.grad)
            for name, b in self.model.named_buffers():
                key = f"b:{name}"
                if name in self.buffers and _mark(b) != self.marks.get(key):
                    _copy_into(b, self.buffers[name])
                    self.marks[key] = _mark(b)
        if self.optimizer_snapshot is not None:
            self.optimizer_snapshot.restore()


class _Mark:
    """Identity, storage and version of a tensor: equal marks mean nothing was written to it. The mark
    keeps the tensor and an alias of its storage alive, so a new tensor cannot reuse its id or address."""

    __slots__ = ("alias", "tensor", "version")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
        self.alias = tensor.detach()
        self.version = tensor._version

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Mark)
            and self.tensor is other.tensor
            and self.alias.data_ptr() == other.alias.data_ptr()
            and self.version == other.version
        )

    __hash__ = None  # type: ignore[assignment]


def _mark(tensor: torch.Tensor | None) -> _Mark | None:
    return None if tensor is None else _Mark(tensor)


class OptimizerState:
    """An optimizer's per-parameter state and hyperparameters. Restoring writes the saved values back
    into the very tensor objects the optimizer held (so references the caller keeps stay valid) and only
    when something changed."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.groups = [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        self.state = {
            param: {
                k: (v, v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v))
                for k, v in entry.items()
            }
            for param, entry in optimizer.state.items()
        }
        self.marks = self._marks()

    def _marks(self) -> Any:
        groups = [[(k, repr(v)) for k, v in g.items() if k != "params"] for g in self.optimizer.param_groups]
        state = [
            (id(p), [(k, _mark(v) if isinstance(v, torch.Tensor) else repr(v)) for k, v in sorted(entry.items())])
            for p, entry in self.optimizer.state.items()
        ]
        return groups, state

    def restore(self) -> None:
        if self._marks() == self.marks:
            return
        for group, saved in zip(self.optimizer.param_groups, self.groups, strict=True):
            for key in [k for k in group if k != "params" and k not in saved]:
                del group[key]
            group.update(copy.deepcopy(saved))
        state = self.optimizer.state
        for param in [p for p in state if p not in self.state]:
            del state[param]
        with torch.no_grad():
            for param, entry in self.state.items():
                restored = {}
                for key, (original, value) in entry.items():
                    if isinstance(original, torch.Tensor) and isinstance(value, torch.Tensor):
                        _copy_into(original, value)
                        restored[key] = original
                    else:
                        restored[key] = copy.deepcopy(value)
                state[param] = restored
        self.marks = self._marks()


def _copy_into(tensor: torch.Tensor, saved: torch.Tensor) -> None:
    """Write ``saved`` back in place (keeping the object the optimizer holds), or rebind its data
    when a check moved or reshaped it."""
    if tensor.device != saved.device or tensor.shape != saved.shape:
        tensor.data = saved.clone()
    else:
        tensor.copy_(saved)


def _plain_attributes(module: torch.nn.Module) -> dict[str, Any]:
    """A module's own attributes (mode flags, hook tables, cached hidden states), shallowly copied."""
    return {
        key: copy.copy(value) if isinstance(value, dict) else value
        for key, value in vars(module).items()
        if key not in _MODULE_INTERNALS
    }


class LoaderState:
    """The random state a DataLoader keeps of its own (its generator and its sampler's), so that drawing
    the sample does not shift the order in which the user's next epoch is shuffled."""

    def __init__(self, loader: Any) -> None:
        self.saved: list[tuple[torch.Generator, torch.Tensor]] = []
        seen: set[int] = set()
        for owner in (
            loader,
            getattr(loader, "sampler", None),
            getattr(loader, "batch_sampler", None),
            getattr(getattr(loader, "batch_sampler", None), "sampler", None),
        ):
            generator = getattr(owner, "generator", None)
            if isinstance(generator, torch.Generator) and id(generator) not in seen:
                seen.add(id(generator))
                self.saved.append((generator, generator.get_state()))

    def restore(self) -> None:
        for generator, state in self.saved:
            generator.set_state(state)

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

    Restoring compares every parameter, buffer and gradient with its copy by value and writes back what
    differs. Version counters cannot be trusted for this: ``p.data.add_`` (a hand-written SGD update) and
    batch norm's running statistics change tensors without bumping them. A comparison reads each tensor
    once, so a check that only reads the model (data, structure, probes) still copies nothing back.
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
                    if not _same(p, self.parameters[name]):
                        _copy_into(p, self.parameters[name])
                    p.requires_grad_(self.requires_grad[name])
                    grad = self.grads[name]
                    if grad is None:
                        p.grad = None
                    elif p.grad is None or p.grad.shape != grad.shape or p.grad.device != grad.device:
                        p.grad = grad.clone()
                    elif not _same(p.grad, grad):
                        p.grad.copy_(grad)
            for name, b in self.model.named_buffers():
                if name in self.buffers and not _same(b, self.buffers[name]):
                    _copy_into(b, self.buffers[name])
        if self.optimizer_snapshot is not None:
            self.optimizer_snapshot.restore()


def _same(tensor: torch.Tensor, saved: torch.Tensor) -> bool:
    """Equal in place, shape, dtype and every value (NaN never equals itself, so it is always restored)."""
    return (
        tensor.shape == saved.shape
        and tensor.dtype == saved.dtype
        and tensor.device == saved.device
        and bool(torch.equal(tensor, saved))
    )


class OptimizerState:
    """An optimizer's per-parameter state and hyperparameters. Restoring writes the saved values back
    into the very tensor objects the optimizer held (so references the caller keeps stay valid) and only
    when something changed, compared by value."""

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

    def _unchanged(self) -> bool:
        current = [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.param_groups]
        if repr(current) != repr(self.groups) or set(self.optimizer.state) != set(self.state):
            return False
        for param, entry in self.optimizer.state.items():
            saved = self.state[param]
            if set(entry) != set(saved):
                return False
            for key, value in entry.items():
                original, copied = saved[key]
                if isinstance(value, torch.Tensor):
                    if value is not original or not isinstance(copied, torch.Tensor) or not _same(value, copied):
                        return False
                elif repr(value) != repr(copied):
                    return False
        return True

    def restore(self) -> None:
        if self._unchanged():
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

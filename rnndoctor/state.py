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
    """A copy of one model's (and optionally one optimizer's) mutable state."""

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
        self.optimizer_state = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None

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
                    _copy_into(p, self.parameters[name])
                    p.requires_grad_(self.requires_grad[name])
                    grad = self.grads[name]
                    p.grad = None if grad is None else grad.clone()
            for name, b in self.model.named_buffers():
                if name in self.buffers:
                    _copy_into(b, self.buffers[name])
        if self.optimizer is not None and self.optimizer_state is not None:
            self.optimizer.load_state_dict(copy.deepcopy(self.optimizer_state))


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

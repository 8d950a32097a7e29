"""The optimizer a diagnosis sees when the script has not exactly one: several optimizers (an encoder's and a
decoder's) seen as one, or hand-written SGD (``p.data.add_(p.grad, alpha=-lr)``) given a rate to set.

Both are `torch.optim.Optimizer`s whose parameter groups are what the checks change: the joint one shares the
script's own group dictionaries, so a rate set on it is the rate the script's optimizers use; the
hand-written one's rate becomes a factor on the gradients before the script's update.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle


class _JointState(MutableMapping[Any, Any]):
    """The per-parameter state of several optimizers, read and written where each parameter lives."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers

    def _owner(self, param: Any) -> torch.optim.Optimizer:
        for optimizer in self.optimizers:
            if any(p is param for group in optimizer.param_groups for p in group["params"]):
                return optimizer
        raise KeyError(param)

    def __getitem__(self, param: Any) -> Any:
        return self._owner(param).state[param]

    def __setitem__(self, param: Any, value: Any) -> None:
        self._owner(param).state[param] = value

    def __delitem__(self, param: Any) -> None:
        del self._owner(param).state[param]

    def __iter__(self) -> Iterator[Any]:
        for optimizer in self.optimizers:
            yield from list(optimizer.state)

    def __len__(self) -> int:
        return sum(len(optimizer.state) for optimizer in self.optimizers)


class _Handles:
    def __init__(self, handles: list[RemovableHandle]) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


class JointOptimizer(torch.optim.Optimizer):
    """Several optimizers of one script as one: their groups, their state, their step hooks."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        params = [p for optimizer in optimizers for group in optimizer.param_groups for p in group["params"]]
        super().__init__(params, {"lr": float(optimizers[0].param_groups[0]["lr"])})
        self.optimizers = list(optimizers)
        self.param_groups = [group for optimizer in optimizers for group in optimizer.param_groups]
        self.state = _JointState(self.optimizers)  # type: ignore[assignment]

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        result = None
        for optimizer in self.optimizers:
            result = optimizer.step(closure) if closure is not None else optimizer.step()
        return result

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def register_step_pre_hook(self, hook: Any) -> Any:
        return _Handles([optimizer.register_step_pre_hook(hook) for optimizer in self.optimizers])

    def register_step_post_hook(self, hook: Any) -> Any:
        return _Handles([optimizer.register_step_post_hook(hook) for optimizer in self.optimizers])

    def __repr__(self) -> str:
        return " + ".join(type(optimizer).__name__ for optimizer in self.optimizers)


class HandWrittenSGD(torch.optim.Optimizer):
    """Stands for a script that updates its parameters itself. ``lr`` is the rate read from the script's
    first update (or 1.0 when that update was not plain SGD); a check that sets another rate scales the
    gradients the script's update reads by the ratio."""

    def __init__(self, params: list[torch.nn.Parameter], lr: float | None) -> None:
        super().__init__(params, {"lr": lr if lr is not None else 1.0})
        self.measured_lr = lr
        self.baseline_lr = lr if lr is not None else 1.0

    def gradient_scale(self) -> float:
        return float(self.param_groups[0]["lr"]) / self.baseline_lr

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """What the script's own update does (``w -= lr * grad``), for a check that steps by itself."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-float(group["lr"]))
        return loss

    def __repr__(self) -> str:
        rate = f"lr={self.measured_lr:g}" if self.measured_lr is not None else "rate unknown"
        return f"hand-written update ({rate})"


def measured_rate(
    before: dict[int, torch.Tensor], after: list[torch.nn.Parameter], grads: dict[int, torch.Tensor] | None
) -> float | None:
    """The rate of a hand-written SGD update, -Δw / g, when the same for (nearly) every weight. A small rate
    moves a weight by a few units of its float precision: each weight's ratio is allowed that rounding."""
    if not grads:
        return None
    moved_parts: list[torch.Tensor] = []
    grad_parts: list[torch.Tensor] = []
    rounding_parts: list[torch.Tensor] = []
    for param in after:
        grad, old = grads.get(id(param)), before.get(id(param))
        if grad is None or old is None or grad.shape != param.shape:
            continue
        new = param.detach()
        g = grad.double().flatten()
        usable = g.abs() > 1e-6 * max(float(g.abs().max()), 1e-30)
        eps = torch.finfo(new.dtype).eps if new.is_floating_point() else 0.0
        moved_parts.append((old - new).double().flatten()[usable])
        grad_parts.append(g[usable])
        magnitude = torch.maximum(old.abs(), new.abs()).double().flatten()[usable]
        rounding_parts.append(2 * eps * magnitude)
    if not grad_parts:
        return None
    moved, g, rounding = torch.cat(moved_parts), torch.cat(grad_parts), torch.cat(rounding_parts)
    if not moved.numel():
        return None
    precise = moved.abs() > 100 * rounding
    ratios = (moved / g)[precise] if int(precise.sum()) >= max(1, moved.numel() // 10) else moved / g
    median = float(ratios.median())
    if median <= 0:
        return None
    close = (moved - median * g).abs() <= 1e-3 * (median * g).abs() + rounding
    # Rounding leaves about three significant digits of the script's rate.
    return float(f"{median:.3g}") if float(close.double().mean()) >= 0.9 else None

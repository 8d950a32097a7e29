"""Sandboxed changes to a session, the building blocks of the remedies' trials (`rnndoctor.core.remedies`).

A patch changes the session (its loss, hooks on the model or optimizer, module flags) while its context is
open and undoes the change when it closes; the weights and optimizer state are restored by the caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from rnndoctor.runtime.session import ArgumentKey, Session, argument, first_tensor_argument, with_argument

Patch = Callable[[Session], contextlib.AbstractContextManager[None]]
"""Changes the session (loss, hooks, module flags) while the context is open and undoes the change after."""

BatchEdit = Callable[[Any], Any]
"""Turns a raw batch into the batch the fixed setup would see."""


class AdaptedLoss:
    """The user's loss with the outputs and/or targets transformed on the way in; attribute reads
    (``ignore_index``, ``reduction``) reach the real loss."""

    def __init__(
        self,
        loss_fn: Any,
        outputs: Callable[[Any], Any] | None = None,
        targets: Callable[[Any], Any] | None = None,
    ) -> None:
        self._loss_fn = loss_fn
        self._outputs = outputs
        self._targets = targets

    def __call__(self, outputs: Any, targets: Any, *args: Any, **kwargs: Any) -> Any:
        return self._loss_fn(
            _first_tensor(outputs, self._outputs), _first_tensor(targets, self._targets), *args, **kwargs
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loss_fn, name)


def _first_tensor(value: Any, transform: Callable[[Any], Any] | None) -> Any:
    """``value`` with ``transform`` applied to it, or to its first element when it is a tuple or list whose
    first element is a tensor (``(log_probs, lengths)`` for a CTC loss)."""
    if transform is None:
        return value
    if isinstance(value, torch.Tensor):
        return transform(value)
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return type(value)([transform(value[0]), *value[1:]]) if type(value) in (tuple, list) else value
    return value


def loss_replaced(make: Callable[[Any], Any], name: str | None = None) -> Patch:
    """Train with ``make(user_loss)`` instead of the user's loss (``name``: the new loss's class name)."""

    @contextlib.contextmanager
    def patch(session: Session) -> Iterator[None]:
        saved = session.loss_fn, session.loss_name
        session.loss_fn = make(session.loss_fn)
        session.loss_name = name or session.loss_name
        try:
            yield
        finally:
            session.loss_fn, session.loss_name = saved

    return patch


def loss_inputs_adapted(
    outputs: Callable[[Any], Any] | None = None, targets: Callable[[Any], Any] | None = None, name: str | None = None
) -> Patch:
    return loss_replaced(lambda loss_fn: AdaptedLoss(loss_fn, outputs, targets), name)


def hooked(register: Callable[[Session], list[Any]]) -> Patch:
    """A patch made of hooks: ``register`` installs them and returns their handles, removed afterwards."""

    @contextlib.contextmanager
    def patch(session: Session) -> Iterator[None]:
        handles = register(session)
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    return patch


def argument_edited(edit: Callable[[torch.Tensor], torch.Tensor], key: ArgumentKey | None = None) -> Patch:
    """Every call of the model gets its argument at ``key`` (default: the first tensor) through ``edit``."""

    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        where = first_tensor_argument(args, kwargs) if key is None else key
        value = argument(args, kwargs, where) if where is not None else None
        if not isinstance(value, torch.Tensor):
            return None
        assert where is not None
        return with_argument(args, kwargs, where, edit(value))

    return hooked(lambda session: [session.model.register_forward_pre_hook(hook, with_kwargs=True)])


def model_input_edited(edit: Callable[[torch.Tensor], torch.Tensor]) -> Patch:
    """Every call of the model gets its first tensor argument through ``edit``."""
    return argument_edited(edit)


def before_forward(action: Callable[[Session], None]) -> Patch:
    """Run ``action`` before every call of the model."""
    return hooked(lambda session: [session.model.register_forward_pre_hook(lambda module, args: action(session))])


def before_step(action: Callable[[Session], None]) -> Patch:
    """Run ``action`` before every optimizer step."""
    return hooked(lambda session: [session.optimizer.register_step_pre_hook(lambda *_: action(session))])


def module_flags(select: Callable[[torch.nn.Module], bool], name: str, value: Any) -> Patch:
    """Set attribute ``name`` to ``value`` on every selected submodule, and put the old values back."""

    @contextlib.contextmanager
    def patch(session: Session) -> Iterator[None]:
        changed = [(m, getattr(m, name)) for m in session.model.modules() if select(m) and hasattr(m, name)]
        for module, _ in changed:
            setattr(module, name, value)
        try:
            yield
        finally:
            for module, old in changed:
                setattr(module, name, old)

    return patch


def _detached(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.grad_fn is not None:
        return value.detach()
    if isinstance(value, tuple) and any(isinstance(v, torch.Tensor) and v.grad_fn is not None for v in value):
        return type(value)(_detached(v) for v in value) if type(value) is tuple else value
    if isinstance(value, list) and any(isinstance(v, torch.Tensor) and v.grad_fn is not None for v in value):
        return [_detached(v) for v in value]
    return value


@contextlib.contextmanager
def state_detached(session: Session) -> Iterator[None]:
    """Before every call of the model, state carried from the previous step (an argument or an attribute
    of a module that still holds its graph) is detached: truncated backpropagation through time."""

    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        for sub in module.modules():
            for key, value in list(vars(sub).items()):
                if not key.startswith("_"):
                    fresh = _detached(value)
                    if fresh is not value:
                        setattr(sub, key, fresh)
        return tuple(_detached(a) for a in args), {k: _detached(v) for k, v in kwargs.items()}

    saved = {
        (id(sub), key): (sub, value)
        for sub in session.model.modules()
        for key, value in vars(sub).items()
        if not key.startswith("_") and isinstance(value, (torch.Tensor, tuple, list))
    }
    handle = session.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
        for (_, key), (sub, value) in saved.items():
            setattr(sub, key, value)


_TINY = 1e-12


def log_probabilities(p: torch.Tensor) -> torch.Tensor:
    return p.clamp_min(_TINY).log()


def class_ids(targets: torch.Tensor, outputs_shape: tuple[int, ...]) -> torch.Tensor:
    """Targets as class ids whatever form they came in: one-hot rows (argmax), an extra axis of size 1
    (dropped), or already ids."""
    if tuple(targets.shape) == outputs_shape and targets.dim() >= 2:
        return targets.argmax(dim=-1 if targets.dim() == 2 else 1)
    return (
        targets.reshape(targets.shape[0], *targets.shape[2:])
        if targets.dim() >= 2 and targets.shape[1] == 1
        else targets
    )


def clip_gradients(session: Session) -> None:
    torch.nn.utils.clip_grad_norm_(session.model.parameters(), max_norm=1.0)


def _held_by(optimizer: torch.optim.Optimizer) -> set[int]:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def held_by_optimizer(session: Session) -> set[int]:
    """The ids of the parameters the session's optimizer updates."""
    return _held_by(session.optimizer)


def trained_too(parameters: list[torch.nn.Parameter]) -> Patch:
    """Train ``parameters`` as well: gradients switched on, a parameter group added to the optimizer for
    those it does not hold; values, flags and groups are put back afterwards (unregistered parameters are
    not covered by the model's own snapshot)."""

    @contextlib.contextmanager
    def patch(session: Session) -> Iterator[None]:
        optimizer = session.optimizer
        held = _held_by(optimizer)
        missing = [p for p in parameters if id(p) not in held]
        saved = [(p, p.detach().clone(), p.requires_grad, p.grad) for p in parameters]
        for p in parameters:
            p.requires_grad_(True)
        if missing:
            optimizer.add_param_group({"params": missing})
        try:
            yield
        finally:
            if missing:
                optimizer.param_groups.pop()
                for p in missing:
                    optimizer.state.pop(p, None)
            with torch.no_grad():
                for p, value, flag, grad in saved:
                    p.copy_(value)
                    p.requires_grad_(flag)
                    p.grad = grad

    return patch

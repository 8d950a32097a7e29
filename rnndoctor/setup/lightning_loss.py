"""Watching the loss a LightningModule's ``training_step`` computes: the ``torch.nn`` loss module or
``torch.nn.functional`` loss it calls, so the diagnosis can judge and change that loss; and running the step
with Lightning's logging silenced."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

FUNCTIONAL_LOSSES = {
    "cross_entropy": nn.CrossEntropyLoss,
    "nll_loss": nn.NLLLoss,
    "binary_cross_entropy_with_logits": nn.BCEWithLogitsLoss,
    "binary_cross_entropy": nn.BCELoss,
    "mse_loss": nn.MSELoss,
    "l1_loss": nn.L1Loss,
    "smooth_l1_loss": nn.SmoothL1Loss,
    "huber_loss": nn.HuberLoss,
    "kl_div": nn.KLDivLoss,
    "multilabel_soft_margin_loss": nn.MultiLabelSoftMarginLoss,
    "poisson_nll_loss": nn.PoissonNLLLoss,
}
"""The ``torch.nn.functional`` losses of the form ``f(outputs, targets, **options)`` that a training step is watched
for, with the ``torch.nn`` class that computes the same from the same options."""

DEPRECATED_LOSS_OPTIONS = ("size_average", "reduce")


@dataclass
class LossCall:
    """The first loss a training step computed: its inputs, its value, and what computed it."""

    outputs: Any
    targets: Any
    value: Any
    module: nn.Module | None = None
    """The loss module the step called (``self.criterion(...)``), when it called one."""
    function: str | None = None
    """Else the ``torch.nn.functional`` loss it called (``F.cross_entropy(...)``)."""
    options: dict[str, Any] = field(default_factory=dict)
    """The functional loss's keyword options (``weight``, ``ignore_index``, ``reduction``...)."""

    def describe(self) -> str:
        if self.module is not None:
            return f"{type(self.module).__name__} module"
        return f"torch.nn.functional.{self.function}"

    def loss_module(self) -> nn.Module:
        """The loss as a module rnndoctor can call as ``loss(outputs, targets)``."""
        if self.module is not None:
            return self.module
        assert self.function is not None
        cls = FUNCTIONAL_LOSSES[self.function]
        accepted = inspect.signature(cls).parameters
        options = {k: v for k, v in self.options.items() if k in accepted and k not in DEPRECATED_LOSS_OPTIONS}
        return cls(**options)  # type: ignore[no-any-return]


def _is_loss_module(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.loss._Loss) or type(module).__name__.endswith("Loss")


class LossTap:
    """While active, watches the loss modules inside ``module`` and the ``torch.nn.functional`` losses, and
    reports each outermost loss call (a loss module's own ``F.cross_entropy`` call is part of it) to ``on_call``.

    The functional losses are swapped in ``torch.nn.functional`` itself for the duration, which is where
    ``F.cross_entropy(...)`` and torch's own loss modules look them up."""

    def __init__(self, module: nn.Module, on_call: Callable[[LossCall], None] | None = None) -> None:
        self.module = module
        self.on_call = on_call
        self.calls: list[LossCall] = []
        self._depth = 0
        self._handles: list[Any] = []
        self._patched: list[tuple[str, Any]] = []

    @property
    def first(self) -> LossCall | None:
        return self.calls[0] if self.calls else None

    def __enter__(self) -> LossTap:
        for sub in self.module.modules():
            if sub is not self.module and _is_loss_module(sub):
                self._handles.append(sub.register_forward_pre_hook(self._enter_module))
                self._handles.append(sub.register_forward_hook(self._leave_module, always_call=True))
        functional = torch.nn.functional
        for name in FUNCTIONAL_LOSSES:
            original = getattr(functional, name, None)
            if original is not None:
                self._patched.append((name, original))
                setattr(functional, name, self._watched(name, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for name, original in self._patched:
            setattr(torch.nn.functional, name, original)
        self._patched = []

    def _enter_module(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self._depth += 1

    def _leave_module(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        self._depth -= 1
        if self._depth == 0 and len(args) >= 2:
            self._record(LossCall(args[0], args[1], output, module=module))

    def _watched(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return original(*args, **kwargs)
            self._depth += 1
            try:
                value = original(*args, **kwargs)
            finally:
                self._depth -= 1
            try:
                bound = inspect.signature(original).bind(*args, **kwargs)
            except TypeError:
                return value
            named = list(bound.arguments.items())
            if len(named) >= 2:
                options = dict(named[2:])
                self._record(LossCall(named[0][1], named[1][1], value, function=name, options=options))
            return value

        return watched

    def _record(self, call: LossCall) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)


@contextlib.contextmanager
def silenced_logging(module: Any) -> Iterator[None]:
    """``self.log`` and ``self.log_dict`` do nothing for the duration: without a Trainer they warn, and inside
    one, before the fit loop runs, they raise. The diagnosis' steps are not the user's metrics anyway."""
    saved = {name: vars(module)[name] for name in ("log", "log_dict") if name in vars(module)}
    for name in ("log", "log_dict"):
        object.__setattr__(module, name, _no_log)
    try:
        yield
    finally:
        for name in ("log", "log_dict"):
            if name in saved:
                object.__setattr__(module, name, saved[name])
            else:
                vars(module).pop(name, None)


def _no_log(*args: Any, **kwargs: Any) -> None:
    return None


def call_training_step(module: Any, batch: Any, batch_index: int) -> Any:
    """``module.training_step(batch, batch_idx)``, or without the index when the method takes the batch only."""
    try:
        parameters = list(inspect.signature(module.training_step).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    if len(positional) >= 2 or variadic or not parameters:
        return module.training_step(batch, batch_index)
    return module.training_step(batch)


def step_loss(returned: Any) -> Any:
    """The loss a ``training_step`` returned: a tensor, a dict's ``loss``, or None (the batch is skipped)."""
    if isinstance(returned, Mapping):
        return returned.get("loss")
    return returned

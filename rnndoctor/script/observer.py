"""The hooks a script runs under, and the pause at each of its training steps.

Everything goes through torch's public surface: ``nn.Module.__call__`` (every module call, with its
arguments and output), the global optimizer step hooks, ``Tensor.backward``, the ``torch.nn.functional``
losses, the gradient clipping functions and ``zero_grad``. The hooks act only in the script's thread, so
the diagnosis can call the same modules from its own thread while the script waits.

A step ends where the next one begins: at the first call of a trained module (one with parameters that
require grad, called from the script's own code with gradients enabled) after a backward pass, or at the
end of an ``optimizer.step(closure)`` (LBFGS), whose forward passes run inside the step. There the script
pauses; the diagnosis reads the finished step and tells the script what the next one trains on.
"""

from __future__ import annotations

import functools
import inspect
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from rnndoctor.runtime.state import ModelState, OptimizerState
from rnndoctor.script.protocol import (
    Crash,
    Message,
    Observations,
    Router,
    StepPlan,
    StopScript,
)
from rnndoctor.script.records import (
    LOSS_CLASS_NAMES,
    FunctionalLoss,
    LossCall,
    ModuleCall,
    StepRecord,
    detached_copy,
    template,
    tensors_in,
)

CLIPPERS = ("clip_grad_norm_", "clip_grad_value_", "clip_grad_norm")

WEIGHT_PROBE = 32
"""Values of each trained weight compared to see a hand-written update happen (``p.data`` bumps no version)."""


class Observer:
    """Mediates one run of a script: what the hooks see in its thread, and its pauses."""

    def __init__(self, router: Router | None = None) -> None:
        self.router = router if router is not None else Router()
        self.thread: threading.Thread | None = None
        self.to_controller: queue.Queue[Message] = queue.Queue()
        self.to_script: queue.Queue[StepPlan | None] = queue.Queue()
        self.plan = StepPlan()
        self.stopping = False
        self.paused_once = False
        self.backward_since_pause = False
        self.depth = 0
        self.in_trained = 0
        """How many calls of trained modules are in progress (a loss inside one is the script's loss)."""
        self.in_loss = False
        self.in_backward = False
        self.in_step = 0
        self.step_index = 0
        self.current = StepRecord(0)
        self.seen = Observations()
        self.crash: Crash | None = None
        self.capture_grads = False
        self.twins: list[nn.Module] = []
        """Modules of an earlier run that this run's trained modules become (a fresh run per phase)."""
        self.optimizer_twins: list[torch.optim.Optimizer] = []
        self._adopted: set[int] = set()
        self._claimed: list[nn.Module] = []
        self._optimizers_built = 0
        self._weights_at_backward: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._kept_at_step = (0, 0)
        self._losses_in_step = 0
        self._trainable: dict[int, bool] = {}

    # -- installation --------------------------------------------------------------------------
    def install(self) -> None:
        """Make this observer the one the hooks report to, installing them if this router has none yet."""
        installed = self.router.current is not None or bool(self.router.undo)
        self.router.current = self
        if installed:
            return
        self._patch(nn.Module, "__call__", self._module_call_wrapper(nn.Module.__call__))
        self._patch(torch.Tensor, "backward", self._backward_wrapper(torch.Tensor.backward))
        self._patch(torch.optim.Optimizer, "__init__", self._optimizer_init_wrapper(torch.optim.Optimizer.__init__))
        self._patch(
            torch.optim.Optimizer, "zero_grad", self._event_wrapper(torch.optim.Optimizer.zero_grad, "zero_grad")
        )
        self._patch(nn.Module, "zero_grad", self._event_wrapper(nn.Module.zero_grad, "zero_grad"))
        self._patch(nn.Module, "train", self._mode_wrapper(nn.Module.train))
        scheduler_base = getattr(torch.optim.lr_scheduler, "LRScheduler", None)
        if scheduler_base is not None:
            self._patch(scheduler_base, "step", self._event_wrapper(scheduler_base.step, "schedule"))
        for name in LOSS_CLASS_NAMES:
            original = getattr(torch.nn.functional, name, None)
            if original is not None:
                self._patch(torch.nn.functional, name, self._functional_loss_wrapper(original, name))
        for owner in (torch.nn.utils, torch.nn.utils.clip_grad):
            for name in CLIPPERS:
                original = getattr(owner, name, None)
                if original is not None:
                    self._patch(owner, name, self._clip_wrapper(original))
        self._patch(torch.utils.data.DataLoader, "__iter__", self._loader_wrapper(torch.utils.data.DataLoader.__iter__))
        router = self.router

        def before_step(*args: Any) -> None:
            if router.current is not None:
                router.current._before_step(*args)

        def after_step(*args: Any) -> None:
            if router.current is not None:
                router.current._after_step(*args)

        pre = register_optimizer_step_pre_hook(before_step)
        post = register_optimizer_step_post_hook(after_step)
        self.router.undo.append(pre.remove)
        self.router.undo.append(post.remove)

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        original = owner.__dict__[name] if name in owner.__dict__ else getattr(owner, name)
        setattr(owner, name, replacement)
        self.router.undo.append(lambda: setattr(owner, name, original))

    def active(self) -> bool:
        return threading.current_thread() is self.thread

    # -- the pause -----------------------------------------------------------------------------
    def _check_stop(self) -> None:
        if self.stopping:
            raise StopScript()

    def pause(self) -> None:
        """Hand the finished step to the diagnosis and wait for the plan of the next one."""
        self.note_hand_written_update()
        record = self.current
        self.step_index += 1
        self.current = StepRecord(self.step_index)
        self.paused_once = True
        self.backward_since_pause = False
        self.to_controller.put(Message("paused", record))
        plan = self.to_script.get()
        if plan is None:
            self.stopping = True
            raise StopScript()
        self.plan = plan
        self._losses_in_step = 0
        self.current.substituted = plan.substitute is not None

    def hand_over_fit(self, arguments: dict[str, Any]) -> None:
        """Report a Lightning fit and wait: the diagnosis uses its module and data, then stops the script."""
        self.seen.lightning_fit = True
        self.to_controller.put(Message("fit", payload=arguments))
        self.to_script.get()
        self.stopping = True
        raise StopScript()

    def _step_begins(self) -> bool:
        return not self.paused_once or (self.backward_since_pause and not self.in_step)

    # -- module calls --------------------------------------------------------------------------
    def trainable(self, module: nn.Module) -> bool:
        key = id(module)
        if key not in self._trainable:
            self._trainable[key] = any(p.requires_grad for p in module.parameters())
        return self._trainable[key]

    def _module_call_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        router = self.router

        @functools.wraps(original)
        def observed_call(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
            observer = router.current
            if observer is None or not observer.active():
                return original(module, *args, **kwargs)
            return observer._module_call(original, module, args, kwargs)

        return observed_call

    def _module_call(self, original: Callable[..., Any], module: nn.Module, args: Any, kwargs: Any) -> Any:
        self._check_stop()
        # A loss computed inside the trained model's own forward (``logits, loss = model(x, y)``) counts too.
        if isinstance(module, nn.modules.loss._Loss) and not self.in_loss and (self.depth == 0 or self.in_trained):
            return self._loss_call(lambda o, t: original(module, o, t), module, type(module).__name__, args, kwargs)
        top = self.depth == 0 and not self.in_loss
        trained = top and torch.is_grad_enabled() and self.trainable(module)
        if trained and self.twins and id(module) not in self._adopted:
            self._adopt(module)
        if trained:
            if id(module) not in self.seen.first_states:
                self.seen.first_states[id(module)] = ModelState(module)
            if self._step_begins():
                self.pause()
            args, kwargs = self._substitute(module, args, kwargs)
        self.depth += 1
        self.in_trained += int(trained)
        try:
            output = original(module, *args, **kwargs)
        except StopScript:
            raise
        except BaseException:
            if top and self.crash is None:
                self.crash = Crash("forward", type(module).__name__)
            raise
        finally:
            self.depth -= 1
            self.in_trained -= int(trained)
        if trained and not self._first_in_step("calls"):
            return output
        if trained:
            live = {
                id(t): (index, position, t)
                for index, call in enumerate(self.current.calls)
                for position, t in enumerate(tensors_in(call.output))
            }
            self.current.calls.append(
                ModuleCall(
                    module,
                    template(tuple(args), live),
                    template(dict(kwargs), live),
                    module.training,
                    output,
                    [tuple(t.shape) for t in tensors_in(output)],
                )
            )
        return output

    def _adopt(self, module: nn.Module) -> None:
        """Make a module of this run the twin of the earlier run's module of the same kind: they share their
        state (weights, buffers, hooks, flags) from now on, so the script trains the diagnosed model."""
        self._adopted.add(id(module))
        shapes = [tuple(p.shape) for p in module.parameters()]
        for twin in self.twins:
            claimed = any(vars(twin) is vars(other) for other in self._claimed)
            # Classes defined in the script itself are new objects in every run: compare them by name.
            same_kind = (type(twin).__module__, type(twin).__qualname__) == (
                type(module).__module__,
                type(module).__qualname__,
            )
            if not claimed and same_kind and [tuple(p.shape) for p in twin.parameters()] == shapes:
                module.__dict__ = twin.__dict__
                self._claimed.append(module)
                self._trainable.pop(id(module), None)
                return

    def _substitute(self, module: nn.Module, args: Any, kwargs: Any) -> tuple[Any, Any]:
        substitute = self.plan.substitute
        if substitute is None or vars(substitute.module) is not vars(module):
            return args, kwargs
        return substitute.args, dict(substitute.kwargs)

    # -- losses --------------------------------------------------------------------------------
    def _functional_loss_wrapper(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        router = self.router
        signature = _signature(original)

        @functools.wraps(original)
        def observed_loss(*args: Any, **kwargs: Any) -> Any:
            observer = router.current
            if (
                observer is None
                or not observer.active()
                or observer.in_loss
                or len(args) < 2
                or (observer.depth > 0 and not observer.in_trained)
            ):
                return original(*args, **kwargs)
            extra = _bound_extras(signature, args, kwargs)
            loss = FunctionalLoss(original, name, extra)
            return observer._loss_call(loss, loss, name, args[:2], {})

        return observed_loss

    def _loss_call(self, compute: Callable[..., Any], loss: Any, name: str, args: Any, kwargs: Any) -> Any:
        self._check_stop()
        if kwargs or len(args) != 2:
            self.in_loss = True
            try:
                return compute(*args, **kwargs)
            finally:
                self.in_loss = False
        outputs, target = args
        carries_grad = isinstance(outputs, torch.Tensor) and outputs.requires_grad
        substitute = self.plan.substitute
        if carries_grad and substitute is not None and self._losses_in_step < len(substitute.targets):
            target = substitute.targets[self._losses_in_step]
        self._losses_in_step += int(carries_grad)
        self.in_loss = True
        try:
            if carries_grad and self.plan.loss_fn is not None:
                value = self.plan.loss_fn(outputs, target)
            else:
                value = compute(outputs, target)
        except StopScript:
            raise
        except BaseException:
            if self.crash is None:
                self.crash = Crash("loss", LOSS_CLASS_NAMES.get(name, name))
            raise
        finally:
            self.in_loss = False
        if carries_grad and isinstance(value, torch.Tensor) and self._first_in_step("losses"):
            loss_name = name if isinstance(loss, nn.Module) else LOSS_CLASS_NAMES.get(name, name)
            self.current.losses.append(
                LossCall(
                    loss,
                    loss_name,
                    outputs.detach().clone(),
                    detached_copy(target),
                    float(value.detach().double().mean()),
                    outputs,
                )
            )
        return value

    # -- backward, clipping, optimizer steps ---------------------------------------------------
    def _backward_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        router = self.router

        @functools.wraps(original)
        def observed_backward(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            observer = router.current
            if observer is None or not observer.active() or observer.in_backward:
                return original(tensor, *args, **kwargs)
            observer._check_stop()
            observer.in_backward = True
            try:
                result = original(tensor, *args, **kwargs)
            except StopScript:
                raise
            except BaseException:
                if observer.crash is None:
                    observer.crash = Crash("backward")
                raise
            finally:
                observer.in_backward = False
            observer._after_backward(tensor)
            return result

        return observed_backward

    def _after_backward(self, tensor: torch.Tensor) -> None:
        self.backward_since_pause = True
        self.current.events.append("backward")
        self._weights_at_backward = [(p, p.detach().flatten()[:WEIGHT_PROBE].clone()) for p in self.plan.scaled]
        if tensor.numel() >= 1:
            self.current.backward_values.append(float(tensor.detach().double().mean()))
        self._scale_grads(self.plan.grad_scale)
        self._keep_grads()

    def note_hand_written_update(self) -> None:
        """Record an update the script made by hand (no optimizer step): the weights moved since backward."""
        probe, self._weights_at_backward = self._weights_at_backward, []
        events = self.current.events
        if not probe or "step" in events[events.index("backward") if "backward" in events else 0 :]:
            return
        if any(not torch.equal(p.detach().flatten()[:WEIGHT_PROBE], before) for p, before in probe):
            events.append("update")

    def _scale_grads(self, factor: float) -> None:
        if factor == 1.0:
            return
        with torch.no_grad():
            for p in self.plan.scaled:
                if p.grad is not None:
                    p.grad.mul_(factor)

    def _keep_grads(self) -> None:
        if self.capture_grads:
            self.seen.grads_after_backward = {
                id(p): p.grad.detach().clone() for p in self.plan.scaled if p.grad is not None
            }

    def _clip_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        router = self.router

        @functools.wraps(original)
        def observed_clip(*args: Any, **kwargs: Any) -> Any:
            observer = router.current
            if observer is None or not observer.active():
                return original(*args, **kwargs)
            observer._check_stop()
            observer.note_hand_written_update()
            observer.current.events.append("clip")
            observer.current.clips.append((original.__name__, _bound_extras(_signature(original), args, kwargs, 1)))
            scale = observer.plan.grad_scale
            # A rate change made by scaling gradients applies after clipping, as the rate itself would.
            observer._scale_grads(1.0 / scale if scale else 1.0)
            try:
                return original(*args, **kwargs)
            finally:
                observer._scale_grads(scale)
                observer._keep_grads()

        return observed_clip

    def _first_in_step(self, kind: str) -> bool:
        """Inside an optimizer step (an LBFGS closure evaluated again and again on the same batch) only the
        first call and the first loss are kept: the others repeat them and would hold their graphs."""
        if not self.in_step:
            return True
        kept = len(self.current.calls if kind == "calls" else self.current.losses)
        return kept == self._kept_at_step[0 if kind == "calls" else 1]

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self.active():
            return
        self._check_stop()
        if not self.in_step:
            self._kept_at_step = (len(self.current.calls), len(self.current.losses))
        self.in_step += 1
        self.current.events.append("step")

    def _after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self.active():
            return
        self.in_step = max(0, self.in_step - 1)
        # The global hooks receive the step's own arguments, the optimizer first.
        closure = args[1] if len(args) > 1 else kwargs.get("closure")
        if callable(closure) and self.backward_since_pause and not self.in_step:
            self.pause()

    def _optimizer_init_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        router = self.router

        @functools.wraps(original)
        def observed_init(optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
            observer = router.current
            result = original(optimizer, *args, **kwargs)
            if observer is not None and observer.active() and observer.optimizer_twins:
                index = observer._optimizers_built
                observer._optimizers_built += 1
                if index < len(observer.optimizer_twins):
                    optimizer.__dict__ = observer.optimizer_twins[index].__dict__
            if observer is not None and observer.active() and not observer.seen.lightning_fit:
                fit = lightning_fit_arguments()
                if fit is not None:
                    observer.hand_over_fit(fit)
            if observer is not None and observer.active() and optimizer not in observer.seen.optimizers:
                observer.seen.optimizers.append(optimizer)
                observer.seen.optimizer_states[id(optimizer)] = OptimizerState(optimizer)
            return result

        return observed_init

    def _event_wrapper(self, original: Callable[..., Any], event: str) -> Callable[..., Any]:
        router = self.router

        @functools.wraps(original)
        def observed(owner: Any, *args: Any, **kwargs: Any) -> Any:
            observer = router.current
            if observer is not None and observer.active():
                observer._check_stop()
                observer.current.events.append(event)
                if event == "schedule":
                    observer.seen.schedulers.append(type(owner).__name__)
            return original(owner, *args, **kwargs)

        return observed

    def _mode_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        router = self.router

        @functools.wraps(original)
        def observed_train(module: nn.Module, mode: bool = True) -> Any:
            observer = router.current
            if observer is not None and observer.active() and observer.depth == 0:
                observer.current.events.append("train" if mode else "eval")
            return original(module, mode)

        return observed_train

    def _loader_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        router = self.router

        @functools.wraps(original)
        def observed_iter(loader: Any) -> Any:
            observer = router.current
            if observer is not None and observer.active():
                observer.seen.dataloaders += 1
                observer.seen.dataloader_workers = max(observer.seen.dataloader_workers, int(loader.num_workers))
            return original(loader)

        return observed_iter

    @contextmanager
    def capturing_grads(self) -> Iterator[None]:
        self.capture_grads = True
        try:
            yield
        finally:
            self.capture_grads = False


FIT_ARGUMENTS = ("model", "train_dataloaders", "val_dataloaders", "datamodule")


def lightning_fit_arguments() -> dict[str, Any] | None:
    """The arguments of a Lightning ``Trainer.fit`` call on the current stack, when there is one: the script
    trains through Lightning, whose module and data rnndoctor then diagnoses the Lightning way."""
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if (
            frame.f_code.co_name == "fit"
            and type(owner).__name__ == "Trainer"
            and type(owner).__module__.split(".")[0] in ("lightning", "pytorch_lightning")
        ):
            return {name: frame.f_locals.get(name) for name in FIT_ARGUMENTS}
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _signature(function: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None


def _bound_extras(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any], skip: int = 2
) -> dict[str, Any]:
    """A call's arguments beyond its first ``skip`` (a loss's input and target), by name."""
    if signature is None:
        return dict(kwargs)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return dict(kwargs)
    names = list(signature.parameters)
    return {name: value for name, value in bound.arguments.items() if name not in names[:skip]}

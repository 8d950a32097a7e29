"""A LightningModule as a diagnosis runs it (contract §7): its ``training_step`` is the training step,
``configure_optimizers`` gives the optimizer, its own or a LightningDataModule's dataloaders give the batches,
and the loss is the one ``training_step`` computes.

Nothing here imports lightning. A module is recognised by the classes of the lightning that the user's code has
already imported to subclass them, so the core runs, and its tests pass, without lightning installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnndoctor.runtime.batches import BatchFormatError, first_output, move_batch, rereadable, unpack
from rnndoctor.runtime.tracebacks import first_line, user_frame
from rnndoctor.setup.lightning_loss import LossCall, LossTap, call_training_step, silenced_logging, step_loss

LIGHTNING_PACKAGES = ("lightning.pytorch", "pytorch_lightning")
LIGHTNING_TOP_LEVEL = ("lightning", "pytorch_lightning")


class LightningSetupError(Exception):
    """The module cannot be run as configured; ``key`` is the config key the user should look at."""

    def __init__(self, key: str, cause: str) -> None:
        super().__init__(cause)
        self.key = key
        self.cause = cause


def _lightning_classes(name: str) -> tuple[type, ...]:
    classes = []
    for package in LIGHTNING_PACKAGES:
        cls = getattr(sys.modules.get(package), name, None)
        if isinstance(cls, type):
            classes.append(cls)
    return tuple(classes)


def is_lightning_module(obj: Any) -> bool:
    classes = _lightning_classes("LightningModule")
    return bool(classes) and isinstance(obj, classes)


def user_defined(obj: Any, name: str) -> bool:
    """Whether ``obj.name`` is the user's own (an override), not lightning's default hook."""
    if name in getattr(obj, "__dict__", {}):
        return True
    attribute = getattr(type(obj), name, None)
    if attribute is None:
        return False
    module = getattr(attribute, "__module__", None) or ""
    return module.split(".")[0] not in LIGHTNING_TOP_LEVEL


def user_call(key: str, label: str, function: Callable[..., Any], *args: Any) -> Any:
    """Call a hook of the user's module, turning its exception into a setup error that names the hook."""
    try:
        return function(*args)
    except (Exception, SystemExit) as exc:
        location = user_frame(exc)
        where = f" at {location}" if location else ""
        message = first_line(exc)
        hint = ""
        if "trainer" in message.lower():
            hint = " (it needs a Trainer: diagnose from the fit with rnndoctor.lightning.DiagnosisCallback)"
        raise LightningSetupError(key, f"{label} raised {type(exc).__name__}{where}: {message}{hint}") from exc


def trainer_of(module: Any) -> Any:
    """The Trainer the module is attached to (the callback's case), or None (a config's case)."""
    return getattr(module, "_trainer", None)


# -- data ------------------------------------------------------------------------------------------


@dataclass
class DataSource:
    data: Any
    origin: str
    note: str | None = None


def dataloader(owner: Any, split: str, label: str, key: str) -> DataSource | None:
    """``owner.<split>_dataloader()`` when the user defined it; several loaders give their first."""
    hook = f"{split}_dataloader"
    if owner is None or not user_defined(owner, hook):
        return None
    origin = f"{label}.{hook}()"
    return first_loader(user_call(key, origin, getattr(owner, hook)), origin)


def first_loader(data: Any, origin: str) -> DataSource:
    from torch.utils.data import DataLoader

    loaders: list[Any] = []
    if isinstance(data, Mapping) and data and all(isinstance(v, DataLoader) for v in data.values()):
        loaders = list(data.values())
    elif isinstance(data, (list, tuple)) and data and all(isinstance(v, DataLoader) for v in data):
        loaders = list(data)
    if len(loaders) > 1:
        return DataSource(loaders[0], origin, f"{origin} gave {len(loaders)} loaders; the first is diagnosed")
    return DataSource(loaders[0] if loaders else data, origin)


def prepare(owner: Any, key: str) -> None:
    """What a Trainer calls before it asks for dataloaders and optimizers: ``prepare_data()``, ``setup("fit")``
    and, for a LightningModule, ``configure_model()``."""
    name = type(owner).__name__
    if user_defined(owner, "prepare_data"):
        user_call(key, f"{name}.prepare_data()", owner.prepare_data)
    if user_defined(owner, "setup"):
        user_call(key, f"{name}.setup('fit')", owner.setup, "fit")
    if is_lightning_module(owner) and user_defined(owner, "configure_model"):
        user_call(key, f"{name}.configure_model()", owner.configure_model)


# -- optimizer -------------------------------------------------------------------------------------


@dataclass
class Optimizers:
    """What ``configure_optimizers`` returned: the optimizers and the learning-rate schedulers, in order."""

    optimizers: list[Any]
    schedulers: list[Any]

    def scheduler_names(self) -> list[str]:
        names = []
        for scheduler in self.schedulers:
            inner = scheduler.get("scheduler", scheduler) if isinstance(scheduler, Mapping) else scheduler
            names.append(type(inner).__name__)
        return names


def split_optimizers(configured: Any) -> Optimizers:
    """Every form ``configure_optimizers`` may return: an optimizer; a list or tuple of them; a dict with an
    ``optimizer`` and an ``lr_scheduler``; a list of such dicts; or two lists, ``([optimizers], [schedulers])``."""
    if configured is None:
        return Optimizers([], [])
    if isinstance(configured, torch.optim.Optimizer):
        return Optimizers([configured], [])
    if isinstance(configured, Mapping):
        scheduler = configured.get("lr_scheduler")
        return Optimizers([configured.get("optimizer")], [scheduler] if scheduler is not None else [])
    if isinstance(configured, (list, tuple)):
        if len(configured) == 2 and all(isinstance(part, (list, tuple)) for part in configured):
            optimizers, schedulers = configured
            return Optimizers(list(optimizers), list(schedulers))
        result = Optimizers([], [])
        for item in configured:
            part = split_optimizers(item)
            result.optimizers += part.optimizers
            result.schedulers += part.schedulers
        return result
    return Optimizers([configured], [])


def first_optimizer(module: Any) -> tuple[torch.optim.Optimizer, Optimizers]:
    """The first optimizer ``configure_optimizers`` returns (raises LightningSetupError when there is none)."""
    label = f"{type(module).__name__}.configure_optimizers()"
    configured = split_optimizers(user_call("optimizer", label, module.configure_optimizers))
    if not configured.optimizers:
        raise LightningSetupError(
            "optimizer", "configure_optimizers() returned no optimizer; set optimizer: in the config"
        )
    optimizer = configured.optimizers[0]
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise LightningSetupError(
            "optimizer",
            f"configure_optimizers() gave {type(optimizer).__name__}, not a torch.optim.Optimizer; "
            "set optimizer: in the config",
        )
    return optimizer, configured


# -- the step and the forward ----------------------------------------------------------------------


class LightningStep:
    """The module's ``training_step`` as a ``train_step(model, batch, optimizer, loss_fn)``, in the order of
    Lightning's automatic optimization: training_step, zero_grad, backward, gradient clipping, optimizer.step.

    The module's ``optimizer_zero_grad``, ``backward``, ``configure_gradient_clipping`` and ``optimizer_step``
    hooks are called when the user wrote them and a Trainer is attached (the callback); the Trainer's gradient
    clipping settings apply there too. ``loss_fn`` hears of every loss the step computes (``note``)."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.batch_index = 0

    def _hook(self, name: str) -> bool:
        return user_defined(self.module, name) and trainer_of(self.module) is not None

    def __call__(self, model: Any, batch: Any, optimizer: torch.optim.Optimizer, loss_fn: Any) -> Any:
        module = self.module
        note = getattr(loss_fn, "note", None)
        index = self.batch_index
        self.batch_index += 1

        def heard(call: LossCall) -> None:
            if note is not None:
                note(call.outputs, call.targets, call.value)

        def closure() -> Any:
            with LossTap(module, heard), silenced_logging(module):
                loss = step_loss(call_training_step(module, batch, index))
            if self._hook("optimizer_zero_grad"):
                module.optimizer_zero_grad(0, index, optimizer)
            else:
                optimizer.zero_grad()
            if isinstance(loss, torch.Tensor) and loss.requires_grad:
                if self._hook("backward"):
                    module.backward(loss)
                else:
                    loss.backward()  # type: ignore[no-untyped-call]
            return loss

        loss = closure()
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
            return loss
        self._clip(optimizer)
        done = [False]

        def again() -> Any:
            if not done[0]:
                done[0] = True
                return loss
            return closure()

        if self._hook("optimizer_step"):
            module.optimizer_step(0, index, optimizer, again)
        else:
            optimizer.step(again)
        return loss

    def _clip(self, optimizer: torch.optim.Optimizer) -> None:
        trainer = trainer_of(self.module)
        if trainer is None:
            return
        value = getattr(trainer, "gradient_clip_val", None)
        algorithm = getattr(trainer, "gradient_clip_algorithm", None)
        if user_defined(self.module, "configure_gradient_clipping"):
            self.module.configure_gradient_clipping(
                optimizer, gradient_clip_val=value, gradient_clip_algorithm=algorithm
            )
            return
        if not value:
            return
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        if str(algorithm or "norm").lower() == "value":
            torch.nn.utils.clip_grad_value_(parameters, float(value))
        else:
            torch.nn.utils.clip_grad_norm_(parameters, float(value))


class TrainingStepForward:
    """``forward(model, batch) -> (outputs, targets)``: what the module's ``training_step`` feeds its loss, for
    steps that reshape, slice or pick the model's outputs or targets before the loss."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def __call__(self, model: Any, batch: Any) -> tuple[Any, Any]:
        with LossTap(self.module) as tap, silenced_logging(self.module):
            call_training_step(self.module, batch, 0)
        if tap.first is None:
            raise RuntimeError("training_step computed no torch.nn loss on this batch")
        return tap.first.outputs, tap.first.targets


# -- putting it together ---------------------------------------------------------------------------


@dataclass
class Probe:
    """One ``training_step`` on the first batch (eval mode, no gradients): which loss it computes and on what."""

    ran: bool = False
    call: LossCall | None = None
    calls: int = 0
    plain: bool = False
    """The loss got the model's own output for the batch's own inputs and targets (contract §3), so rnndoctor
    can call the model itself."""
    error: BaseException | None = None


def probe(module: nn.Module, batch: Any, batch_keys: dict[str, str] | None) -> Probe:

    seen: list[tuple[tuple[Any, ...], Any]] = []
    handle = module.register_forward_hook(lambda m, args, output: seen.append((args, output)))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), LossTap(module) as tap, silenced_logging(module):
            call_training_step(module, batch, 0)
    except Exception as exc:  # noqa: BLE001 - a crash here is evidence for the checks, not a setup error
        return Probe(ran=True, error=exc)
    finally:
        handle.remove()
        module.train(was_training)
    result = Probe(True, tap.first, len(tap.calls))
    if tap.first is None or not seen:
        return result
    try:
        parts = unpack(batch, batch_keys)
    except BatchFormatError:
        return result
    args, output = seen[0]
    result.plain = (
        bool(args)
        and args[0] is parts.inputs
        and tap.first.outputs is first_output(output)
        and tap.first.targets is parts.targets
    )
    return result


class UnseenLoss:
    """Stands in for the loss when the probing step crashed before computing one: the checks then meet the
    same crash in the model or the step first, and this says why there is no loss to compute otherwise."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __call__(self, outputs: Any, targets: Any) -> Any:
        raise RuntimeError(
            f"training_step raised {type(self.error).__name__} before it computed a loss ({self.error}); "
            "set loss: in the config to diagnose the rest"
        )


@dataclass
class Adapted:
    loss_fn: Any
    optimizer: Any
    forward_fn: Any
    train_step_fn: Any
    notes: dict[str, Any]


def adapt(
    module: Any,
    *,
    train_data: Any,
    loss_fn: Any,
    optimizer: Any,
    forward_fn: Any,
    train_step_fn: Any,
    batch_keys: dict[str, str] | None,
) -> Adapted:
    """Fill what the config (or the caller) left out from the module: the optimizer, the training step, and,
    seen by running one ``training_step``, the loss and whether the model can be called on the batch's inputs."""
    notes: dict[str, Any] = {"module": type(module).__name__}
    if not getattr(module, "automatic_optimization", True) and train_step_fn is None:
        raise LightningSetupError(
            "model",
            f"{type(module).__name__} uses manual optimization (automatic_optimization = False), which needs a "
            "Trainer; give a train_step: function that runs one step",
        )
    if optimizer is None:
        optimizer, configured = first_optimizer(module)
        notes["optimizer"] = f"configure_optimizers(): {type(optimizer).__name__}"
        if len(configured.optimizers) > 1:
            notes["optimizers_not_diagnosed"] = len(configured.optimizers) - 1
        if configured.schedulers:
            notes["schedulers_not_stepped"] = configured.scheduler_names()
    else:
        notes["optimizer"] = f"given: {type(optimizer).__name__}"
    if train_step_fn is None:
        train_step_fn = LightningStep(module)
        notes["training_step"] = "the module's training_step (automatic optimization)"
    else:
        notes["training_step"] = "the configured train_step"
    seen = Probe()
    if forward_fn is None or loss_fn is None:
        seen = _probe_first_batch(module, train_data, batch_keys)
    if loss_fn is None:
        loss_fn = _discovered_loss(module, seen)
        notes["loss"] = f"seen in training_step: {seen.call.describe()}" if seen.call else "not seen (step crashed)"
    else:
        notes["loss"] = f"given: {type(loss_fn).__name__}"
    if seen.calls > 1:
        notes["loss_calls"] = seen.calls
    if forward_fn is None and seen.call is not None and not seen.plain:
        forward_fn = TrainingStepForward(module)
        notes["forward"] = "training_step: the outputs and targets it passes to its loss"
    elif forward_fn is None:
        notes["forward"] = "model(inputs) on the batch's inputs"
    return Adapted(loss_fn, optimizer, forward_fn, train_step_fn, notes)


def _probe_first_batch(module: Any, train_data: Any, batch_keys: dict[str, str] | None) -> Probe:
    """The probe on the loader's first batch; the random states (a shuffling sampler draws its order from
    them) and the loader's own generator are as they were afterwards, so the user's fit is unchanged."""
    from rnndoctor.runtime.state import LoaderState, RngState

    if not rereadable(train_data):
        return Probe()
    rng, loader = RngState.capture(), LoaderState(train_data)
    try:
        batch = next(iter(train_data))
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        lengths_key = (batch_keys or {}).get("lengths", "lengths")
        return probe(module, move_batch(batch, device, lengths_key), batch_keys)
    except Exception as exc:  # noqa: BLE001 - the data's own crash is reported by the checks
        return Probe(ran=True, error=exc)
    finally:
        loader.restore()
        rng.restore()


def _discovered_loss(module: Any, seen: Probe) -> Any:
    if seen.call is not None:
        return seen.call.loss_module()
    if seen.error is not None:
        return UnseenLoss(seen.error)
    if not seen.ran:
        raise LightningSetupError(
            "loss",
            "the training data can be read only once (a generator or stream), so rnndoctor cannot run "
            f"{type(module).__name__}.training_step on a batch first to see its loss; set loss: in the config",
        )
    raise LightningSetupError(
        "loss",
        f"{type(module).__name__}.training_step computed its loss without a torch.nn loss module or "
        "torch.nn.functional loss that rnndoctor can watch; set loss: in the config",
    )

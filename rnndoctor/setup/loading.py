"""Turn the config's references into live objects: model, data, loss, optimizer and step hooks.

A reference runs the user's code (like importing a test file does); nothing here evaluates strings.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import reprlib
import sys
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from rnndoctor.runtime.tracebacks import first_line, user_frame
from rnndoctor.setup.config import LIGHTNING_OPTIONAL_KEYS, Config, Reference
from rnndoctor.setup.errors import LoadError
from rnndoctor.setup.lightning_adapter import LightningSetupError, is_lightning_module, prepare
from rnndoctor.setup.loaded import Loaded, assemble

DEFAULT_LR = 1e-3


class Loader:
    """Resolves references relative to one config file and calls factories with their ``_args``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.display = config.display_path
        self._modules: dict[Path, ModuleType] = {}
        self.added_paths: list[str] = []
        self._modules_before: set[str] | None = None

    def error(self, key: str, cause: str) -> LoadError:
        return LoadError(cause, file=self.display, key=key)

    def load(self) -> Loaded:
        import torch

        self._extend_import_path(self.config.base_dir)
        config = self.config
        model = self.build(config.model)
        if not isinstance(model, torch.nn.Module):
            raise self.error("model", f"'{config.model.target}' gave {_describe(model)}, expected a torch.nn.Module")
        lightning = is_lightning_module(model)
        if config.datamodule is None and not lightning:
            for key in LIGHTNING_OPTIONAL_KEYS:
                if getattr(config, key) is None:
                    raise self.error(key, MISSING_CAUSES[key])
        elif config.loss is None and not lightning:
            raise self.error("loss", MISSING_CAUSES["loss"])
        try:
            return self._assemble(model, lightning)
        except LightningSetupError as exc:
            raise self.error(exc.key, exc.cause) from exc

    def _assemble(self, model: Any, lightning: bool) -> Loaded:
        """Build what the config names (a datamodule and a LightningModule are set up for the fit first, as a
        Trainer would), then `assemble` it."""
        config = self.config
        datamodule = self.build_datamodule(config.datamodule) if config.datamodule else None
        if datamodule is not None:
            prepare(datamodule, "datamodule")
        if lightning:
            prepare(model, "model")
        train_data = self.build_data(config.train_data) if config.train_data else None
        val_data = self.build_data(config.val_data) if config.val_data else None
        loss_fn = self.build_loss(config.loss) if config.loss else None
        optimizer = self.build_optimizer(config.optimizer, model) if config.optimizer_given or not lightning else None
        forward_fn = self.build_hook(config.forward) if config.forward else None
        train_step_fn = self.build_hook(config.train_step) if config.train_step else None
        check_hidden(model, config.hidden, self.display)
        return assemble(
            model,
            train_data=train_data,
            val_data=val_data,
            loss_fn=loss_fn,
            optimizer=optimizer,
            forward_fn=forward_fn,
            train_step_fn=train_step_fn,
            datamodule=datamodule,
            batch_keys=config.batch_keys,
            usable=self._iterable,
            no_training_batches=MISSING_CAUSES["train_data"],
        )

    def build_datamodule(self, ref: Reference) -> Any:
        datamodule = self.build(ref)
        if not callable(getattr(datamodule, "train_dataloader", None)):
            raise self.error(ref.key, f"'{ref.target}' gave {_describe(datamodule)}, expected a LightningDataModule")
        return datamodule

    def _iterable(self, data: Any, key: str, origin: str) -> Any:
        if not isinstance(data, Iterable) and not hasattr(data, "__getitem__"):
            raise self.error(key, f"{origin} gave {_describe(data)}, expected an iterable of batches")
        return data

    def resolve(self, ref: Reference, *, torch_namespace: str | None = None) -> Any:
        """The attribute a reference names, importing its module on the way."""
        target = ref.target
        if ":" in target:
            module_part, _, attr_path = target.rpartition(":")
            if not module_part or not attr_path:
                raise self.error(ref.key, f"'{target}' is not of the form 'file.py:attr' or 'package.module:attr'")
            module = self._import(ref.key, module_part)
            return self._attribute(ref.key, module, attr_path, module_part)
        if torch_namespace is None:
            raise self.error(ref.key, f"'{target}' is not of the form 'file.py:attr' or 'package.module:attr'")
        if "." in target:
            module_name, _, attr = target.rpartition(".")
            module = self._import(ref.key, _torch_alias(module_name))
            return self._attribute(ref.key, module, attr, module_name)
        namespace = importlib.import_module(torch_namespace)
        return self._attribute(ref.key, namespace, target, torch_namespace)

    def build(self, ref: Reference, *, positional: tuple[Any, ...] = ()) -> Any:
        obj = self.resolve(ref)
        if _is_factory(obj):
            return self._call(ref, obj, positional)
        if ref.args is not None:
            raise self.error(
                f"{ref.key}_args", f"'{ref.target}' is already an object ({_describe(obj)}), so it takes no arguments"
            )
        return obj

    def build_data(self, ref: Reference) -> Any:
        obj = self.resolve(ref)
        if _is_factory(obj):
            obj = self._call(ref, obj, ())
        elif ref.args is not None:
            raise self.error(
                f"{ref.key}_args", f"'{ref.target}' is already an object ({_describe(obj)}), so it takes no arguments"
            )
        if not isinstance(obj, Iterable) and not hasattr(obj, "__getitem__"):
            raise self.error(
                ref.key,
                f"'{ref.target}' gave {_describe(obj)}, expected an iterable of batches "
                "(a DataLoader, a list, a generator)",
            )
        return obj

    def build_loss(self, ref: Reference) -> Callable[..., Any]:
        obj = self.resolve(ref, torch_namespace="torch.nn")
        if inspect.isclass(obj) or (_is_factory(obj) and (ref.args is not None or _required_positional(obj) == 0)):
            obj = self._call(ref, obj, ())
        elif ref.args is not None:
            raise self.error(f"{ref.key}_args", f"'{ref.target}' is already a loss function, so it takes no arguments")
        if not callable(obj):
            raise self.error(
                ref.key, f"'{ref.target}' gave {_describe(obj)}, expected a callable loss(outputs, targets)"
            )
        return obj  # type: ignore[no-any-return]

    def build_optimizer(self, ref: Reference, model: Any) -> Any:
        import torch

        obj = self.resolve(ref, torch_namespace="torch.optim")
        if isinstance(obj, torch.optim.Optimizer):
            if ref.args is not None:
                raise self.error("optimizer_args", f"'{ref.target}' is already an optimizer, so it takes no arguments")
            return obj
        if not _is_factory(obj):
            raise self.error(ref.key, f"'{ref.target}' gave {_describe(obj)}, expected an optimizer class")
        args = dict(ref.args or {})
        if "lr" not in args and _accepts(obj, "lr"):
            args["lr"] = DEFAULT_LR
        optimizer = self._call(
            Reference(ref.key, ref.target, args), obj, (model.parameters(),), user_args=ref.args is not None
        )
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise self.error(ref.key, f"'{ref.target}' gave {_describe(optimizer)}, expected a torch.optim.Optimizer")
        return optimizer

    def build_hook(self, ref: Reference) -> Callable[..., Any]:
        obj = self.resolve(ref)
        if not callable(obj):
            raise self.error(ref.key, f"'{ref.target}' is {_describe(obj)}, expected a function")
        if ref.args:
            return functools.partial(obj, **ref.args)
        return obj  # type: ignore[no-any-return]

    def _call(
        self, ref: Reference, factory: Callable[..., Any], positional: tuple[Any, ...], user_args: bool = True
    ) -> Any:
        try:
            args = tensor_arguments(factory, ref.args or {}, floating=ref.key == "loss")
        except ValueError as exc:
            raise self.error(f"{ref.key}_args", str(exc)) from None
        name = getattr(factory, "__name__", ref.target)
        call = f"{name}(**{ref.key}_args)" if args and user_args else f"{name}(...)" if positional else f"{name}()"
        try:
            return factory(*positional, **args)
        except SystemExit as exc:
            raise self.error(ref.key, f"{call} called sys.exit({exc.code!r})") from None
        except Exception as exc:
            location = user_frame(exc)
            where = f" at {location}" if location else ""
            raise self.error(ref.key, f"{call} raised {type(exc).__name__}{where}: {first_line(exc)}") from exc

    def _import(self, key: str, module_part: str) -> ModuleType:
        if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
            return self._import_file(key, module_part)
        self._forget_foreign_module(module_part)
        try:
            return importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            if exc.name and module_part.startswith(exc.name):
                raise self.error(key, f"cannot import module '{module_part}': no module named '{exc.name}'") from exc
            raise self.error(key, f"importing '{module_part}' failed: {type(exc).__name__}: {first_line(exc)}") from exc
        except Exception as exc:
            raise self.error(key, f"importing '{module_part}' failed: {type(exc).__name__}: {first_line(exc)}") from exc

    def _forget_foreign_module(self, dotted: str) -> None:
        """Drop an already imported module of the same name that lives outside this config's folder.

        Two projects may both have a ``models.py``; in one process (the Python API, a notebook, a test
        suite) the second config must get its own, not the first one's cached in ``sys.modules``.
        """
        top = dotted.split(".")[0]
        base = self.config.base_dir
        if not ((base / f"{top}.py").is_file() or (base / top).is_dir()):
            return
        loaded = sys.modules.get(top)
        origin = getattr(loaded, "__file__", None)
        if loaded is None or origin is None or Path(origin).resolve().is_relative_to(base.resolve()):
            return
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]

    def _import_file(self, key: str, relative: str) -> ModuleType:
        try:
            path = (self.config.base_dir / relative).resolve()
            exists = path.is_file()
        except (OSError, ValueError) as exc:
            raise self.error(key, f"'{relative[:80]}' is not a usable file name: {first_line(exc)}") from None
        if path in self._modules:
            return self._modules[path]
        if not exists:
            raise self.error(key, f"file '{relative}' not found (looked for {path})")
        self._extend_import_path(path.parent)
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
        name = f"rnndoctor_user_{path.stem}_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise self.error(key, f"cannot import '{relative}' as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except SystemExit as exc:
            sys.modules.pop(name, None)
            raise self.error(key, f"importing '{relative}' called sys.exit({exc.code!r})") from None
        except SyntaxError as exc:
            sys.modules.pop(name, None)
            raise self.error(key, f"'{relative}' line {exc.lineno}: SyntaxError: {exc.msg}") from exc
        except Exception as exc:
            sys.modules.pop(name, None)
            location = user_frame(exc)
            where = f" at {location}" if location else ""
            raise self.error(
                key, f"importing '{relative}' failed{where}: {type(exc).__name__}: {first_line(exc)}"
            ) from exc
        self._modules[path] = module
        return module

    def _attribute(self, key: str, module: ModuleType, attr_path: str, module_label: str) -> Any:
        obj: Any = module
        for part in attr_path.split("."):
            if not hasattr(obj, part):
                names = [n for n in dir(obj) if not n.startswith("_")]
                hint = close_name(part, names)
                suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
                raise self.error(key, f"'{module_label}' has no attribute '{part}'{suggestion}")
            obj = getattr(obj, part)
        return obj

    def _extend_import_path(self, folder: Path) -> None:
        if self._modules_before is None:
            self._modules_before = set(sys.modules)
        text = str(folder)
        if text not in sys.path:
            sys.path.insert(0, text)
            self.added_paths.append(text)

    def release_import_path(self) -> None:
        """Undo the import path and forget the modules the user's files imported from their own folders, so
        that the next config's sibling `data.py` is not answered with this one's."""
        folders = tuple(str(Path(text)) + os.sep for text in self.added_paths)
        for name in set(sys.modules) - (self._modules_before or set()):
            origin = getattr(sys.modules.get(name), "__file__", None)
            if folders and isinstance(origin, str) and origin.startswith(folders):
                del sys.modules[name]
        for text in self.added_paths:
            if text in sys.path:
                sys.path.remove(text)
        self.added_paths.clear()
        self._modules_before = None


MISSING_CAUSES = {
    "train_data": "is required (a reference such as 'data.py:train_loader'), unless a datamodule is given or "
    "the model is a LightningModule with a train_dataloader()",
    "loss": "is required (a torch.nn loss such as CrossEntropyLoss, or a reference such as 'losses.py:masked_loss'), "
    "unless the model is a LightningModule whose training_step computes it",
}


def check_hidden(model: Any, hidden: str | None, display: str) -> None:
    """`hidden:` must name a method of the model (or be 'zeros' for a model with a recurrent module)."""
    from rnndoctor.runtime.recurrence import ZEROS, recurrent_modules, unwrap

    if hidden is None:
        return
    if hidden == ZEROS:
        if not recurrent_modules(model):
            raise LoadError(
                "is 'zeros' but the model has no recurrent layer or cell to shape them", file=display, key="hidden"
            )
        return
    inner = unwrap(model)
    if not callable(getattr(inner, hidden, None)):
        methods = [n for n in dir(inner) if not n.startswith("_") and callable(getattr(inner, n, None))]
        hint = close_name(hidden, methods)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else "; or write zeros to let rnndoctor build zero states"
        raise LoadError(f"{type(inner).__name__} has no method '{hidden}'{suggestion}", file=display, key="hidden")


TORCH_ALIASES = {"nn": "torch.nn", "optim": "torch.optim", "F": "torch.nn.functional"}
"""What ``nn.BCEWithLogitsLoss``, ``optim.AdamW`` and ``F.cross_entropy`` mean in a `loss` or `optimizer`."""


def _torch_alias(module_name: str) -> str:
    """``nn.X`` is ``torch.nn.X`` as code imports it, unless the project has a module of that name itself."""
    top, _, rest = module_name.partition(".")
    if top not in TORCH_ALIASES or importlib.util.find_spec(top) is not None:
        return module_name
    return TORCH_ALIASES[top] + (f".{rest}" if rest else "")


def close_name(name: str, names: list[str]) -> list[str]:
    """The name meant by a typo: the same name in another case first (``adamw`` is AdamW, not Adam)."""
    same = [n for n in names if n.lower() == name.lower()]
    return same[:1] or difflib.get_close_matches(name, names, n=1, cutoff=0.6)


def tensor_arguments(factory: Any, args: dict[str, Any], *, floating: bool = False) -> dict[str, Any]:
    """YAML has no tensors: a number or a list of numbers given for a parameter annotated as a tensor
    (``weight: [1.0, 3.0]``, ``pos_weight: 2.0``) becomes one; ``floating`` makes whole numbers float too,
    as a loss's class weights must be."""
    if not args:
        return args
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return args
    import torch

    converted = dict(args)
    for name, value in args.items():
        parameter = parameters.get(name)
        if parameter is None or not _names_tensor(parameter.annotation) or not _numbers(value):
            continue
        dtype = torch.get_default_dtype() if floating else None
        try:
            converted[name] = torch.tensor(value, dtype=dtype)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise ValueError(f"{name}: cannot make a tensor of {reprlib.repr(value)}: {first_line(exc)}") from None
    return converted


def _names_tensor(annotation: Any) -> bool:
    import torch

    if isinstance(annotation, str):
        return re.search(r"\bTensor\b", annotation) is not None
    if isinstance(annotation, type):
        return issubclass(annotation, torch.Tensor)
    return any(_names_tensor(arg) for arg in typing.get_args(annotation))


def _numbers(value: Any) -> bool:
    """A number, or a non-empty (nested) list of numbers."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, list) and value:
        return all(_numbers(item) for item in value)
    return False


def _is_factory(obj: Any) -> bool:
    return (
        inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj) or isinstance(obj, functools.partial)
    )


def _required_positional(func: Any) -> int:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 0
    return sum(
        1
        for p in params
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )


def _accepts(func: Any, name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _describe(obj: Any) -> str:
    if obj is None:
        return "None"
    module = type(obj).__module__
    if module.startswith("rnndoctor_user_"):
        module = module.removeprefix("rnndoctor_user_").rsplit("_", 1)[0] + ".py:"
        name = f"{module}{type(obj).__qualname__}"
    else:
        name = f"{module}.{type(obj).__qualname__}".removeprefix("builtins.")
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"

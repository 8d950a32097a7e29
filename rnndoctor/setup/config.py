"""Read and validate the YAML config into a frozen `Config`.

Every error names the file, the key and the cause in one line, because the user's next action is to
open that file at that key.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import re
import reprlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rnndoctor.core.catalogue import code_range, unmatched_code
from rnndoctor.core.findings import FailOn
from rnndoctor.core.options import Option
from rnndoctor.script.spec import DEFAULT_SCRIPT_TIMEOUT, ScriptSpec
from rnndoctor.setup.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20

SAMPLING_OPTIONS = (
    Option(
        "max_batches",
        16,
        "batches a check may draw from a loader, however large or endless it is",
    ),
    Option(
        "check_timeout",
        300,
        "safety net only: seconds one check may run before it is stopped and reported",
        notes=("errored (the run is then INCOMPLETE); the work itself is counted in steps and passes",),
    ),
    Option(
        "max_step_work",
        2.0e10,
        "multiply-adds one training step of a check may cost (dense weights x time steps x samples):",
        notes=(
            "larger batches are cut to their first samples (at least 2) in the sweep, the fits and the short run",
            "(a 2x1024 LSTM LM on 32x200 tokens costs 3e11 per step, ~16 s on 2 cores; a 64-unit LSTM ~1e7)",
        ),
    ),
    Option(
        "setup_timeout",
        120,
        "seconds importing and building model, data, loss and optimizer may take",
    ),
)
"""Top-level keys that bound a run's work and time (the ``sampling:`` section of the packaged defaults)."""

AUTO = "auto"
BATCH_FIRST = "batch_first"
TIME_FIRST = "time_first"
LAYOUT_CHOICES = (AUTO, BATCH_FIRST, TIME_FIRST)
"""Values of `layout:` (the axis of the model's input that holds the samples)."""

REFERENCE_KEYS = ("model", "train_data", "val_data", "loss", "optimizer", "forward", "train_step", "datamodule")
REQUIRED_KEYS = ("model",)
LIGHTNING_OPTIONAL_KEYS = ("train_data", "loss")
"""Required too, unless the model is a LightningModule (its dataloaders, or a datamodule's, give the batches and
its training_step computes the loss) or, for ``train_data``, a datamodule is given: the loader checks them once
it has built the model."""
SCALAR_KEYS = (
    "device",
    "seed",
    "fail_on",
    "ignore",
    "select",
    "checks",
    "max_batches",
    "check_timeout",
    "setup_timeout",
    "max_step_work",
    "hidden",
    "layout",
    "batch_keys",
)
SCRIPT_KEYS = ("script", "script_args", "cwd", "env", "script_timeout")
"""Script mode (contract §8): the script that is the setup, its arguments, working directory and environment."""
EXCLUDED_BY_SCRIPT = ("model", "train_data", "loss", "optimizer", "forward", "train_step")
"""What a script brings itself: these keys (and their ``_args``) cannot stand beside ``script``."""
SCRIPT_PLACEHOLDER = "<script>"
VALID_KEYS = tuple([k for ref in REFERENCE_KEYS for k in (ref, f"{ref}_args")] + list(SCALAR_KEYS) + list(SCRIPT_KEYS))

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
CODE_PATTERN = re.compile(r"^RD\d{0,3}$")
NUMERIC_OPTIMIZER_ARGS = ("lr", "momentum", "weight_decay", "eps", "alpha", "dampening", "lr_decay")


MAX_INTEGER = 2**63
MAX_ALIASES = 50
"""A config has no use for more anchors re-used than this; more is an alias bomb (billions of nodes)."""


class TooManyAliases(yaml.YAMLError):
    pass


class _NumberFriendlyLoader(yaml.SafeLoader):
    """A safe loader that reads ``1e-3`` and ``3E+4`` as floats, as people mean them.

    YAML 1.1 only accepts floats with a dot (``1.0e-3``), so a plain SafeLoader returns the string
    ``"1e-3"`` for the most common way of writing a learning rate. It also refuses documents that reuse
    anchors more than ``MAX_ALIASES`` times.
    """

    aliases_seen = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            self.aliases_seen += 1
            if self.aliases_seen > MAX_ALIASES:
                raise TooManyAliases(f"more than {MAX_ALIASES} aliases (*anchor references): refusing an alias bomb")
        return super().compose_node(parent, index)


_NumberFriendlyLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_NumberFriendlyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class Reference:
    """One ``path/file.py:attr`` or ``pkg.mod:attr`` reference with its keyword arguments."""

    key: str
    target: str
    args: dict[str, Any] | None = None


@dataclass(frozen=True)
class Config:
    path: Path | None
    base_dir: Path
    model: Reference
    train_data: Reference | None = None
    """None only where the model is a LightningModule or a datamodule is given (checked when loading)."""
    loss: Reference | None = None
    """None only where the model is a LightningModule: the loss is the one its training_step computes."""
    val_data: Reference | None = None
    optimizer: Reference = field(default_factory=lambda: Reference("optimizer", "Adam", None))
    optimizer_given: bool = True
    """Whether the config names the optimizer (or its arguments); a LightningModule's configure_optimizers is
    used otherwise."""
    forward: Reference | None = None
    train_step: Reference | None = None
    datamodule: Reference | None = None
    """A LightningDataModule whose train/val dataloaders give the batches not named by train_data/val_data."""
    device: str = "auto"
    seed: int = 0
    fail_on: FailOn = FailOn.ERROR
    ignore: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    checks: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """Options per check, defaults merged in; ``None`` means the check is switched off."""
    max_batches: int = 16
    check_timeout: float = 60.0
    setup_timeout: float = 120.0
    max_step_work: float = 2.0e10
    """Multiply-adds one training step of a check may cost (dense weights x time steps x samples)."""
    hidden: str | None = None
    """How to make a hidden-state model's first state: the name of a model method called with the batch
    size (e.g. init_hidden), or 'zeros'."""
    layout: str = AUTO
    """auto, batch_first or time_first: which axis of the model's input holds the samples."""
    batch_keys: dict[str, str] | None = None
    """Dict batches: the keys holding inputs, targets and lengths."""
    script: ScriptSpec | None = None
    """Script mode: the training script whose own run is the setup (``model`` is then a placeholder)."""

    @property
    def display_path(self) -> str:
        return str(self.path) if self.path else "<objects>"


def load_defaults() -> dict[str, Any]:
    """The default options and thresholds (a fresh copy: callers merge user options into it)."""
    return copy.deepcopy(_parsed_defaults())


@functools.cache
def _parsed_defaults() -> dict[str, Any]:
    text = resources.files("rnndoctor").joinpath("defaults.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=_NumberFriendlyLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(data, dict)
    return data


def read_yaml(path: Path, display: str) -> Any:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", file=display) from None
    if path.is_dir():
        raise ConfigError("is a directory, not a YAML config file", file=display)
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"file is {size} bytes; a config must be under {MAX_CONFIG_BYTES}", file=display)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("is not a UTF-8 text file", file=display) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", file=display) from None
    try:
        return yaml.load(text, Loader=_NumberFriendlyLoader)  # noqa: S506 - a SafeLoader subclass
    except TooManyAliases as exc:
        raise ConfigError(str(exc), file=display) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}invalid YAML: {problem}", file=display) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=display) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ConfigError(f"cannot read the YAML: {type(exc).__name__}: {_short(str(exc))}", file=display) from None


def load_config(path: str | Path, *, overrides: dict[str, Any] | None = None) -> Config:
    """Read the YAML file at ``path``; ``overrides`` (from the command line) win over the file."""
    display = str(path)
    config_path = Path(path)
    data = read_yaml(config_path, display)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping of keys (model:, train_data:, ...), got {_kind(data)}",
            file=display,
        )
    merged = dict(data)
    for key, value in (overrides or {}).items():
        if value is not None:
            merged[key] = value
    return build_config(merged, display=display, base_dir=config_path.resolve().parent, path=config_path)


def build_config(data: dict[Any, Any], *, display: str, base_dir: Path, path: Path | None) -> Config:
    def error(key: str, cause: str) -> ConfigError:
        return ConfigError(cause, file=display, key=key)

    for key in data:
        if not isinstance(key, str):
            raise error(str(key), "keys must be strings")
        if key not in VALID_KEYS:
            hint = difflib.get_close_matches(key, VALID_KEYS, n=1, cutoff=0.5)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; valid keys: {', '.join(VALID_KEYS)}"
            raise error(key, f"unknown key{suggestion}")
    script = _script(data, base_dir, error)
    if script is not None:
        data = {**data, "model": SCRIPT_PLACEHOLDER}
    for key in REQUIRED_KEYS:
        if data.get(key) is None:
            raise error(
                key, "is required (a reference such as 'models.py:build_model', or 'script: train.py' for a script)"
            )

    references: dict[str, Reference | None] = {}
    for key in REFERENCE_KEYS:
        references[key] = _reference(data, key, error)
    optimizer_given = references["optimizer"] is not None or data.get("optimizer_args") is not None
    if references["optimizer"] is None:
        references["optimizer"] = Reference("optimizer", "Adam", _optional_mapping(data, "optimizer_args", error))
    _check_optimizer_args(references["optimizer"], error)

    defaults = load_defaults()
    sampling = defaults["sampling"]
    model = references["model"]
    optimizer = references["optimizer"]
    assert model is not None and optimizer is not None
    return Config(
        path=path,
        base_dir=base_dir,
        model=model,
        train_data=references["train_data"],
        loss=references["loss"],
        val_data=references["val_data"],
        optimizer=optimizer,
        optimizer_given=optimizer_given,
        forward=references["forward"],
        train_step=references["train_step"],
        datamodule=references["datamodule"],
        device=_device(data.get("device", "auto"), error),
        seed=_integer(data.get("seed", 0), "seed", error, minimum=0),
        fail_on=_fail_on(data.get("fail_on", "error"), error),
        ignore=_codes(data.get("ignore"), "ignore", error),
        select=_codes(data.get("select"), "select", error),
        checks=merge_check_options(data.get("checks"), defaults["checks"], error),
        max_batches=_integer(data.get("max_batches", sampling["max_batches"]), "max_batches", error, minimum=1),
        check_timeout=_positive_number(data.get("check_timeout", sampling["check_timeout"]), "check_timeout", error),
        setup_timeout=_positive_number(data.get("setup_timeout", sampling["setup_timeout"]), "setup_timeout", error),
        max_step_work=_positive_number(data.get("max_step_work", sampling["max_step_work"]), "max_step_work", error),
        hidden=_hidden(data.get("hidden"), error),
        layout=_layout(data.get("layout", AUTO), error),
        batch_keys=_batch_keys(data.get("batch_keys"), error),
        script=script,
    )


def _script(data: dict[str, Any], base_dir: Path, error: Any) -> ScriptSpec | None:
    """The ``script`` keys, checked: the script exists, its arguments are words, its folder exists."""
    value = data.get("script")
    if value is None:
        for key in SCRIPT_KEYS[1:]:
            if data.get(key) is not None:
                raise error(key, "is given but 'script' is not")
        return None
    for key in EXCLUDED_BY_SCRIPT:
        for given in (key, f"{key}_args"):
            if data.get(given) is not None:
                raise error(
                    given, f"cannot be combined with 'script': the script builds its own {key.replace('_', ' ')}"
                )
    if not isinstance(value, str) or not value.strip():
        raise error("script", f"expected the path of a Python training script, got {_kind(value)}")
    path = (base_dir / value.strip()).resolve()
    if not path.is_file():
        raise error("script", f"no such file: {path}")
    if path.suffix != ".py":
        raise error("script", f"expected a Python file (.py), got {path.name}")
    args = data.get("script_args") or []
    if isinstance(args, str):
        raise error("script_args", "expected a list of arguments such as [--lr, '0.1'], got a single text")
    if not isinstance(args, (list, tuple)) or any(isinstance(a, (dict, list, tuple)) or a is None for a in args):
        raise error("script_args", f"expected a list of arguments such as [--lr, '0.1'], got {_kind(args)}")
    cwd_value = data.get("cwd")
    cwd = base_dir
    if cwd_value is not None:
        if not isinstance(cwd_value, str) or not cwd_value.strip():
            raise error("cwd", f"expected a folder, got {_kind(cwd_value)}")
        cwd = (base_dir / cwd_value.strip()).resolve()
        if not cwd.is_dir():
            raise error("cwd", f"no such folder: {cwd}")
    env = data.get("env") or {}
    if not isinstance(env, dict):
        raise error("env", f"expected a mapping of environment variables, got {_kind(env)}")
    for name, setting in env.items():
        if not isinstance(name, str) or not name or isinstance(setting, (dict, list, tuple)) or setting is None:
            raise error(f"env.{name}", "expected NAME: value with a text or number value")
    timeout = _positive_number(data.get("script_timeout", DEFAULT_SCRIPT_TIMEOUT), "script_timeout", error)
    return ScriptSpec(
        path=path,
        args=tuple(_argument_text(a) for a in args),
        cwd=cwd,
        env={str(k): _argument_text(v) for k, v in env.items()},
        timeout=timeout,
    )


def _argument_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _hidden(value: Any, error: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip().isidentifier():
        raise error("hidden", f"expected the name of a model method such as init_hidden, or zeros; got {_short(value)}")
    return value.strip()


def _layout(value: Any, error: Any) -> str:
    text = str(value).strip().lower().replace("-", "_") if isinstance(value, str) else None
    if text not in LAYOUT_CHOICES:
        raise error("layout", f"expected one of {', '.join(LAYOUT_CHOICES)}, got {_short(value)}")
    return str(text)


def _batch_keys(value: Any, error: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise error(
            "batch_keys", f"expected a mapping such as {{inputs: input_ids, targets: labels}}, got {_kind(value)}"
        )
    roles = ("inputs", "targets", "lengths")
    for role, key in value.items():
        if role not in roles:
            hint = difflib.get_close_matches(str(role), roles, n=1, cutoff=0.5)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; expected {', '.join(roles)}"
            raise error(f"batch_keys.{role}", f"unknown role{suggestion}")
        if not isinstance(key, str) or not key:
            raise error(f"batch_keys.{role}", f"expected the name of a key in your dict batches, got {_short(key)}")
    return {str(role): str(key) for role, key in value.items()}


def _reference(data: dict[str, Any], key: str, error: Any) -> Reference | None:
    value = data.get(key)
    args = _optional_mapping(data, f"{key}_args", error)
    if value is None:
        if args is not None and key != "optimizer":
            raise error(f"{key}_args", f"is given but '{key}' is not")
        return None
    if not isinstance(value, str) or not value.strip():
        raise error(key, f"expected a reference such as 'file.py:attr' or 'package.module:attr', got {_kind(value)}")
    return Reference(key, value.strip(), args)


def _optional_mapping(data: dict[str, Any], key: str, error: Any) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise error(key, f"expected a mapping of keyword arguments, got {_kind(value)}")
    for name in value:
        if not isinstance(name, str) or not name.isidentifier():
            raise error(f"{key}.{name}", "argument names must be Python identifiers")
    return dict(value)


def _check_optimizer_args(reference: Reference | None, error: Any) -> None:
    if reference is None or not reference.args:
        return
    for name in NUMERIC_OPTIMIZER_ARGS:
        if name in reference.args and not _is_number(reference.args[name]):
            raise error(f"optimizer_args.{name}", f"expected a number, got {_short(reference.args[name])}")


def _device(value: Any, error: Any) -> str:
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text is None or not DEVICE_PATTERN.match(text):
        raise error("device", f"expected auto, cpu, cuda, cuda:N or mps, got {_short(value)}")
    return text


def _fail_on(value: Any, error: Any) -> FailOn:
    try:
        return FailOn(str(value).strip().lower())
    except ValueError:
        raise error("fail_on", f"expected error, warning or never, got {_short(value)}") from None


def _codes(value: Any, key: str, error: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise error(key, f"expected a list of codes such as [RD102, RD5], got {_kind(value)}")
    codes = []
    for item in items:
        code = str(item).strip().upper()
        if not CODE_PATTERN.match(code):
            raise error(key, f"{_short(item)} is not a code or code prefix (RD102, RD1, ...)")
        if unmatched_code([code]):
            raise error(key, f"{code} matches no code ({code_range()})")
        codes.append(code)
    return tuple(codes)


def _integer(value: Any, key: str, error: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise error(key, f"expected a whole number, got {_short(value)}")
    if value < minimum:
        raise error(key, f"must be at least {minimum}, got {_short(value)}")
    if value >= MAX_INTEGER:
        raise error(key, f"must be below 2**63, got {_short(value)}")
    return int(value)


def _positive_number(value: Any, key: str, error: Any) -> float:
    if not _is_number(value) or value <= 0:
        raise error(key, f"expected a positive number, got {_short(value)}")
    return float(value)


def merge_check_options(
    value: Any, defaults: dict[str, dict[str, Any]], error: Any
) -> dict[str, dict[str, Any] | None]:
    """Merge the user's ``checks:`` section over the defaults, rejecting unknown names and types."""
    merged: dict[str, dict[str, Any] | None] = {name: dict(opts or {}) for name, opts in defaults.items()}
    if value is None:
        return merged
    if not isinstance(value, dict):
        raise error("checks", f"expected a mapping of check names to options, got {_kind(value)}")
    for name, options in value.items():
        if name not in defaults:
            defaults = {**defaults, **_plugin_check_defaults()}
            merged.update({plugin: dict(opts) for plugin, opts in defaults.items() if plugin not in merged})
        if name not in defaults:
            hint = difflib.get_close_matches(str(name), list(defaults), n=1, cutoff=0.5)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; known checks: {', '.join(defaults)}"
            raise error(f"checks.{name}", f"unknown check{suggestion}")
        if options is False:
            merged[name] = None
            continue
        if options is None or options is True:
            continue
        if not isinstance(options, dict):
            raise error(f"checks.{name}", f"expected a mapping of options or false, got {_kind(options)}")
        current = merged[name]
        assert current is not None
        for option, option_value in options.items():
            default = defaults[name].get(option) if defaults[name] else None
            if default is None and option not in (defaults[name] or {}):
                known = list(defaults[name] or {})
                hint = difflib.get_close_matches(str(option), known, n=1, cutoff=0.5)
                suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; known options: {', '.join(known)}"
                raise error(f"checks.{name}.{option}", f"unknown option{suggestion}")
            if _is_number(default):
                _check_option_number(option_value, default, f"checks.{name}.{option}", error)
            current[option] = option_value
    return merged


def _plugin_check_defaults() -> dict[str, dict[str, Any]]:
    """Options of checks that other packages register (the packaged defaults hold the built-in ones only);
    read only when the config names a check the defaults do not know, since it imports torch."""
    from rnndoctor.core.registry import registered_checks

    return {check.name: {o.name: o.default for o in check.options} for check in registered_checks()}


def _check_option_number(value: Any, default: Any, key: str, error: Any) -> None:
    """Options take the kind of number their default is: finite, whole where the default is whole,
    positive where the default is positive (a step count of 0 or a NaN threshold makes no sense)."""
    if not _is_number(value):
        raise error(key, f"expected a finite number, got {_short(value)}")
    if isinstance(default, int) and not float(value).is_integer():
        raise error(key, f"expected a whole number, got {_short(value)}")
    if default > 0 and value <= 0:
        raise error(key, f"must be greater than 0, got {_short(value)}")
    if default == 0 and value < 0:
        raise error(key, f"must be 0 or more, got {_short(value)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 4
_REPR.maxlevel = 2


def _short(value: Any) -> str:
    """A bounded repr: an error message must stay one line even for an alias bomb or a 5 MB string."""
    return _REPR.repr(value)


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {_short(value)}"
    return {list: "a list", dict: "a mapping", bool: f"the boolean {value}", type(None): "nothing"}.get(
        type(value), f"{type(value).__name__} {_short(value)}"
    )

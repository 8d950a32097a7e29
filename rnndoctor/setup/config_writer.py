"""The YAML config that reproduces a command line run (``--write-config``), so CI and pre-commit can run it
from a file: a script with its arguments, or a config with the command line's overrides merged in."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from rnndoctor.setup.config import read_yaml
from rnndoctor.setup.errors import SetupError

_OPTION_KEYS = ("device", "seed", "fail_on", "select", "ignore")


def reproducing_config(config: str, script_args: tuple[str, ...], destination: Path, options: dict[str, Any]) -> str:
    """The text of a config that, written at ``destination``, diagnoses what ``config`` (a YAML file or a
    script) with ``script_args`` and the command line ``options`` does now."""
    folder = destination.resolve().parent
    if config.endswith(".py"):
        script = Path(config)
        if not script.is_file():
            raise SetupError("no such file", file=config)
        data: dict[str, Any] = {"script": _relative(script.resolve(), folder)}
        if script_args:
            data["script_args"] = list(script_args)
        if Path.cwd().resolve() != folder:
            data["cwd"] = _relative(Path.cwd().resolve(), folder)
    else:
        loaded = read_yaml(Path(config), config)
        data = dict(loaded) if isinstance(loaded, dict) else {}
        source = Path(config).resolve().parent
        if source != folder:
            data = _rebased(data, source, folder)
    for key in _OPTION_KEYS:
        value = options.get(key)
        if value not in (None, (), []):
            data[key] = list(value) if isinstance(value, tuple) else value
    header = "# Written by `rnndoctor check --write-config`; `rnndoctor check <this file>` reproduces the run.\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _relative(path: Path, folder: Path) -> str:
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive on Windows
        return str(path)


def _rebased(data: dict[str, Any], source: Path, folder: Path) -> dict[str, Any]:
    """A config's file paths, written for another folder: ``script`` and ``cwd``, and every reference of the
    form ``path/file.py:attr``, still name the same files (a script's working directory stays the source's)."""
    rebased = dict(data)
    for key, value in data.items():
        if not isinstance(value, str):
            continue
        if key in ("script", "cwd"):
            rebased[key] = _relative((source / value).resolve(), folder)
        elif ".py:" in value:
            path, _, attribute = value.rpartition(":")
            rebased[key] = f"{_relative((source / path).resolve(), folder)}:{attribute}"
    if "script" in data and "cwd" not in data:
        rebased["cwd"] = _relative(source, folder)
    return rebased

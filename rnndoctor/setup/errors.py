"""Errors that stop a run before any check starts (exit code 2)."""

from __future__ import annotations


class SetupError(Exception):
    """The run could not be set up. The message is written for a person: file, key, cause."""

    def __init__(self, cause: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        self.cause = cause
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.key:
            where.append(f"key '{self.key}'")
        prefix = ": ".join(where)
        return f"{prefix}: {self.cause}" if prefix else self.cause


class ConfigError(SetupError):
    """The YAML file itself is unreadable or invalid."""


class LoadError(SetupError):
    """A reference in the config cannot be imported or its factory failed."""

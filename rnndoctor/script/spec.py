"""Which script a diagnosis runs and how (read from the config or the command line; no torch here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SCRIPT_TIMEOUT = 120.0


@dataclass(frozen=True)
class ScriptSpec:
    """Which script to run, and how."""

    path: Path
    args: tuple[str, ...] = ()
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_SCRIPT_TIMEOUT
    """Seconds the script may take to finish its first training step."""

    @property
    def folder(self) -> Path:
        return self.cwd or self.path.parent

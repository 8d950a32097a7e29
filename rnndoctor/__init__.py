"""rnndoctor: find out why a recurrent network will not train."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnndoctor.core.version import VERSION as __version__

if TYPE_CHECKING:
    from rnndoctor.api import diagnose

__all__ = ["__version__", "diagnose"]


def __getattr__(name: str) -> Any:
    """``rnndoctor.diagnose`` is `rnndoctor.api.diagnose` itself, with its signature and docstring for editors
    and ``help()``; it is imported on first use, so ``import rnndoctor`` (and the command line) stays fast."""
    if name == "diagnose":
        from rnndoctor.api import diagnose

        globals()["diagnose"] = diagnose
        return diagnose
    raise AttributeError(f"module 'rnndoctor' has no attribute {name!r}")

"""rnndoctor: find out why a recurrent network will not train."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnndoctor.core.version import VERSION as __version__

if TYPE_CHECKING:
    from rnndoctor.core.findings import Report

__all__ = ["__version__", "diagnose"]


def diagnose(*args: Any, **kwargs: Any) -> Report:
    """Diagnose a training setup; see `rnndoctor.api.diagnose`. Imported lazily to keep start-up fast."""
    from rnndoctor.api import diagnose as _diagnose

    return _diagnose(*args, **kwargs)

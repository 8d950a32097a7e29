"""Out-of-memory during a check: find the batch size that fits (`rnndoctor.core.crashes` reports it)."""

from __future__ import annotations

from typing import Any

import torch

from rnndoctor.core.errors import UserCodeError
from rnndoctor.runtime.session import Session


def is_out_of_memory(error: BaseException) -> bool:
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(error, oom)) or "out of memory" in str(error).lower()


def free_cached_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def largest_fitting_batch(session: Session, raw: Any) -> tuple[int | None, int | None]:
    """(the batch's size, the largest halved size whose training step fits), by trying halves."""
    size = session.batch_size(session.unpack(raw).inputs) if session.unpackable("train") else None
    if size is None:
        return None, None
    candidate = size // 2
    while candidate >= 1:
        free_cached_memory()
        smaller = session.take(raw, candidate)
        if smaller is None:
            return size, None
        try:
            session.model.zero_grad(set_to_none=True)
            result = session.forward(smaller, grad=True)
            session.backward(session.scalar_loss(result.outputs, result.targets))
            return size, candidate
        except UserCodeError as exc:
            if not is_out_of_memory(exc.original):
                return size, None
        candidate //= 2
    return size, None

"""Out-of-memory during a check: find the batch size that fits and say so, instead of a bare crash."""

from __future__ import annotations

from typing import Any

import torch

from rnndoctor.findings import Finding
from rnndoctor.registry import make_finding
from rnndoctor.session import Session, UserCodeError


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


def out_of_memory_finding(session: Session, error: BaseException, check: str) -> Finding:
    free_cached_memory()
    size, fits = largest_fitting_batch(session, session.sample("train").batches[0])
    free_cached_memory()
    where = f" with batches of {size}" if size else ""
    verdict = f"; a batch of {fits} fits" if fits else ""
    fix = (
        f"Use batches of at most {fits} (or accumulate gradients over {max(1, (size or fits) // fits)} smaller "
        "batches), shorten the sequences, or reduce the hidden size."
        if fits
        else "Reduce the batch size, the sequence length or the hidden size, or run on a device with more memory."
    )
    return make_finding(
        "RD001",
        f"The {check} check ran out of {session.device.type.upper()} memory{where}{verdict}: "
        f"{str(error).splitlines()[0][:200]}",
        fix,
        {"batch_size": size, "fitting_batch_size": fits, "device": str(session.device)},
        confidence=0.9,
        check=check,
    )

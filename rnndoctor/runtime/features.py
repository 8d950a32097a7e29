"""Input features as rows, their running moments, and the inputs the model receives: shared by the inputs
check (what the data holds) and the input-scaling remedy (how to standardize it)."""

from __future__ import annotations

import torch

from rnndoctor.measurements.data import FeatureStats
from rnndoctor.runtime.batches import Batch
from rnndoctor.runtime.layout import Layout
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.targets import MAX_TARGET_BATCHES_VIA_FORWARD


class FeatureAccumulator:
    """Running per-feature moments in float64 over valid positions of every sampled batch."""

    def __init__(self) -> None:
        self.count = 0
        self.total: torch.Tensor | None = None
        self.total_sq: torch.Tensor | None = None
        self.minimum = float("inf")
        self.maximum = float("-inf")

    def add(self, rows: torch.Tensor) -> None:
        rows = rows.double()
        rows = rows[torch.isfinite(rows).all(dim=1)]
        if rows.numel() == 0:
            return
        if self.total is None or self.total.shape[0] != rows.shape[1]:
            if self.total is not None:
                return
            self.total = torch.zeros(rows.shape[1], dtype=torch.float64)
            self.total_sq = torch.zeros(rows.shape[1], dtype=torch.float64)
        assert self.total_sq is not None
        self.count += rows.shape[0]
        self.total += rows.sum(dim=0)
        self.total_sq += (rows * rows).sum(dim=0)
        self.minimum = min(self.minimum, float(rows.min()))
        self.maximum = max(self.maximum, float(rows.max()))

    def stats(self, name: str, shape: tuple[int, ...]) -> FeatureStats | None:
        if self.total is None or self.total_sq is None or self.count < 2:
            return None
        mean = self.total / self.count
        var = (self.total_sq / self.count - mean * mean).clamp_min(0) * self.count / (self.count - 1)
        std = var.sqrt()
        # Round-off makes the variance of a constant feature a tiny positive number; call it zero.
        std = torch.where(std <= 1e-12 * mean.abs().clamp_min(1.0), torch.zeros_like(std), std)
        return FeatureStats(self.count, mean.tolist(), std.tolist(), self.minimum, self.maximum, name, shape)


def input_batches(session: Session, split: str = "train") -> tuple[list[Batch], Layout | None]:
    """The sampled batches' inputs as the data yields them; behind a ``forward`` function that takes
    batches of another layout, the tensors the model receives (one forward pass each, fewer batches)."""
    if session.unpackable(split):
        return session.batches(split), session.raw_layout(split)
    batches = []
    for raw in session.sample(split).batches[:MAX_TARGET_BATCHES_VIA_FORWARD]:
        result = session.forward(raw)
        batches.append(Batch(raw, result.model_input, result.targets))
    return batches, session.layout()


def valid_rows(values: torch.Tensor, layout: Layout | None, lengths: list[int] | None) -> torch.Tensor:
    """Input positions as rows of features, dropping padded time steps."""
    if values.dim() <= 1:
        return values.reshape(-1, 1)
    if layout is None or layout.steps is None:
        return values.reshape(-1, values.shape[-1])
    x = layout.batch_first(values)
    features = 1 if x.dim() == 2 else x.shape[-1]
    if lengths is not None and len(lengths) == x.shape[0] and x.dim() <= 3:
        mask = torch.arange(x.shape[1])[None, :] < torch.tensor(lengths)[:, None]
        return x[mask].reshape(-1, features)
    return x.reshape(-1, features)

"""The leakage check (RD111): validation samples whose exact copy is also in the training data, found by
hashing every sampled sample with its padding stripped."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from typing import Any

import numpy as np
import torch

from rnndoctor.core.errors import SkipCheck
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.data import LeakStats
from rnndoctor.runtime.batches import Batch, draw_sample, rereadable
from rnndoctor.runtime.features import input_batches
from rnndoctor.runtime.layout import Layout, padding_id, valid_lengths
from rnndoctor.runtime.session import Session


def sample_fingerprints(batch: Batch, layout: Layout | None, pad: int | None) -> list[bytes]:
    """One hash per sample of its inputs, ignoring padding so equal sequences match across batches."""
    inputs = batch.inputs
    if not isinstance(inputs, torch.Tensor) or layout is None:
        return []
    inputs = inputs.detach().cpu()
    layout = layout.resized(inputs)
    found = valid_lengths(inputs, layout, batch.lengths, pad if not inputs.is_floating_point() else None)
    x = layout.batch_first(inputs) if layout.steps is not None or layout.batch_axis is None else inputs
    prints = []
    for i in range(x.shape[0]):
        sample = x[i]
        if found is not None and sample.dim() >= 1:
            sample = sample[: found[0][i]]
        array = np.ascontiguousarray(sample.numpy())
        digest = hashlib.blake2b(array.tobytes(), digest_size=16)
        digest.update(str(array.shape).encode())
        prints.append(digest.digest())
    return prints


@register
class LeakageCheck(Check):
    name = "leakage"
    cost = 3
    quick = True
    description = "identical samples in the training and validation data"
    options = (
        Option(
            "max_train_batches",
            64,
            "RD111: training batches hashed to look for copies of validation samples",
            meaning="Training batches hashed while looking for copies of the validation samples (a cost bound).",
            guards=("RD111",),
        ),
    )

    @staticmethod
    def _training_sample(session: Session, budget: int) -> Any:
        """More training batches than the shared sample, to find copies of validation samples; data that
        may be one-shot is never read again, so its shared sample is all there is."""
        if not rereadable(session.train_data) or budget <= session.max_batches:
            return session.sample("train")
        rng = random.Random(f"{session.seed}:leakage")
        return draw_sample(session.train_data, budget, rng, checkpoint=session.checkpoint)

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        if session.val_data is None:
            raise SkipCheck("no val_data in the config")
        pad = padding_id(session.model)
        train_prints: Counter[bytes] = Counter()
        if session.unpackable("train") and session.unpackable("val"):
            train_layout = session.raw_layout("train")
            train_sample = self._training_sample(session, int(ctx.options["max_train_batches"]))
            for raw in train_sample.batches:
                train_prints.update(sample_fingerprints(session.unpack(raw), train_layout, pad))
            coverage = train_sample.coverage
        else:
            # Behind a forward function: compare what the model receives, on the sampled batches only.
            batches, layout = input_batches(session, "train")
            for batch in batches:
                train_prints.update(sample_fingerprints(batch, layout, pad))
            coverage = None
        val_batches, val_layout = input_batches(session, "val")
        val_prints = [fp for batch in val_batches for fp in sample_fingerprints(batch, val_layout, pad)]
        train_total = sum(train_prints.values())
        if not train_total or not val_prints:
            raise SkipCheck("no tensor inputs to compare")
        duplicated = sum(n for n in train_prints.values() if n > 1)
        overlap_indices = [i for i, fp in enumerate(val_prints) if fp in train_prints]
        stats = LeakStats(
            val_samples=len(val_prints),
            train_samples=train_total,
            overlap=len(overlap_indices),
            train_duplicate_share=duplicated / train_total,
            train_coverage=coverage,
            examples=overlap_indices[:5],
        )
        ctx.publish(stats)
        return Outcome(
            f"{stats.overlap} of {stats.val_samples} validation samples found among {train_total} training samples",
            {
                "overlap": stats.overlap,
                "val_samples": stats.val_samples,
                "train_samples": train_total,
                "train_coverage": coverage,
                "train_duplicate_share": round(stats.train_duplicate_share, 4),
            },
        )

"""The labels check (RD101-RD104, RD110): class counts, class-id range, target encoding and train/validation
shift over the sampled targets, with at most one forward pass to learn how many classes the model outputs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch

from rnndoctor.core.crashes import crash_finding
from rnndoctor.core.errors import UserCodeError
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.data import LabelShift, LabelStats, RangeStats, RegressionShift, TargetEncoding
from rnndoctor.runtime.facts import fact
from rnndoctor.runtime.session import Forward
from rnndoctor.runtime.targets import targets_of, task_facts
from rnndoctor.runtime.task import (
    BINARY,
    LANGUAGE_MODEL,
    NO_CLASS_CHECKS,
    REGRESSION,
    SINGLE_LABEL,
    Task,
    is_one_hot,
    loss_family,
)


def reference_forward(ctx: CheckContext) -> Forward | None:
    """The shared reference forward, or None after reporting why it failed (once per run)."""
    session = ctx.session
    if session.unsafe_token_ids():
        return None
    try:
        return session.reference()
    except UserCodeError as exc:
        if not session.reference_crash_reported:
            session.reference_crash_reported = True
            ctx.findings.append(crash_finding(session, exc.stage, exc.original, ctx.check_name))
        return None


def task_of(ctx: CheckContext) -> Task:
    """The run's task (a shared fact), after reporting a crash of the reference forward pass once."""
    reference_forward(ctx)
    return fact(ctx.session, task_facts).task


def class_ids(targets: torch.Tensor, task: Task, output_shape: tuple[int, ...] | None) -> np.ndarray:
    """Targets as a flat array of class ids, without ignored positions."""
    t = targets.detach()
    axis = task.class_axis
    if axis is not None and output_shape is not None and tuple(t.shape) == output_shape and t.shape[axis] > 1:
        t = t.argmax(dim=axis)
    flat = t.reshape(-1)
    if flat.is_floating_point():
        flat = flat[torch.isfinite(flat)]
        if not torch.equal(flat, flat.round()):
            return np.zeros(0, dtype=np.int64)
    ids = flat.to(torch.int64).numpy()
    if task.ignore_index is not None:
        ids = ids[ids != task.ignore_index]
    return ids


@register
class LabelsCheck(Check):
    name = "labels"
    cost = 2
    quick = True
    description = "label distribution, class-id range, target encoding, train/val label shift"
    options = (
        Option(
            "shift_permutations",
            2000,
            "RD110: random splits in that permutation test (batches are the units for per-step labels)",
            meaning=(
                "Random splits in that test. Samples are the units for one label per sample; whole batches for per-"
                "step labels, whose positions within a sequence are not independent."
            ),
            guards=("RD110",),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        task = task_of(ctx)
        targets = targets_of(session, "train")
        output_shape = fact(session, task_facts).output_shape
        metrics: dict[str, Any] = {"task": task.to_dict(), "batches": len(targets)}

        ctx.publish(describe_encoding(targets[0], task, output_shape, session.loss_name))

        if task.kind == "multi-label classification":
            shares = multilabel_stats(targets)
            metrics["positive_share_per_label"] = shares
            return Outcome(f"multi-label targets over {len(shares)} labels", metrics)
        if task.kind in NO_CLASS_CHECKS:
            values = torch.cat([t.reshape(-1).double() for t in targets])
            finite = values[torch.isfinite(values)]
            metrics.update(
                target_mean=float(finite.mean()) if finite.numel() else None,
                target_std=float(finite.std()) if finite.numel() > 1 else None,
            )
            if task.kind == REGRESSION:
                self._regression_shift(ctx, finite)
            return Outcome(f"{task.kind} targets; class checks do not apply", metrics)

        ids = np.concatenate(
            [class_ids(t, task, output_shape if t.shape == targets[0].shape else None) for t in targets]
        )
        counts = {int(k): int(v) for k, v in sorted(Counter(ids.tolist()).items())}
        sample_text = session.sample("train").describe()
        stats = LabelStats(task.kind, counts, task.num_classes, session.loss_name, sample_text)
        ctx.publish(stats)
        metrics.update(class_counts=counts, samples=int(ids.size), distinct_classes=len(counts))

        if task.num_classes is not None and loss_family(session.loss_name) == "index" and ids.size:
            out_of_range = int(((ids < 0) | (ids >= task.num_classes)).sum())
            ctx.publish(
                RangeStats(
                    task.num_classes,
                    int(ids.min()),
                    int(ids.max()),
                    out_of_range,
                    int(ids.size),
                    task.ignore_index,
                    session.loss_name,
                )
            )
        if session.val_data is not None and task.kind != LANGUAGE_MODEL:
            val_targets = targets_of(session, "val")
            per_batch = [class_ids(t, task, output_shape if t.shape == targets[0].shape else None) for t in val_targets]
            val_ids = np.concatenate(per_batch) if per_batch else np.zeros(0, dtype=np.int64)
            val_counts = {int(k): int(v) for k, v in sorted(Counter(val_ids.tolist()).items())}
            metrics["val_class_counts"] = val_counts
            val_stats = LabelStats(task.kind, val_counts, task.num_classes, session.loss_name)
            train_batches = [class_ids(t, task, output_shape if t.shape == targets[0].shape else None) for t in targets]
            labels = sorted(set(counts) | set(val_counts))
            p_value = shift_p_value(
                shift_units(train_batches, labels, task),
                shift_units(per_batch, labels, task),
                int(ctx.options["shift_permutations"]),
                session.seed,
            )
            metrics["shift_p_value"] = p_value
            ctx.publish(LabelShift(stats, val_stats, p_value))
        classes = f"{len(counts)} class{'es' if len(counts) != 1 else ''}"
        return Outcome(f"{classes} over {ids.size} sampled targets ({task.kind})", metrics)

    def _regression_shift(self, ctx: CheckContext, train_values: torch.Tensor) -> None:
        session = ctx.session
        if session.val_data is None or train_values.numel() < 2:
            return
        val = torch.cat([t.reshape(-1).double() for t in targets_of(session, "val")])
        val = val[torch.isfinite(val)]
        if val.numel() < 2:
            return
        ctx.publish(
            RegressionShift(float(train_values.mean()), float(train_values.std()), float(val.mean()), float(val.std()))
        )


def shift_units(batches: list[np.ndarray], classes: list[int], task: Task) -> np.ndarray:
    """Rows of class counts to permute between train and validation: one per sample when each sample has
    one label, one per batch when labels are per step (steps of one sequence are not independent)."""
    index = {c: i for i, c in enumerate(classes)}
    per_sample = task.kind in (SINGLE_LABEL, BINARY)
    rows = []
    for ids in batches:
        if per_sample:
            for value in ids.tolist():
                row = np.zeros(len(classes))
                row[index[int(value)]] = 1
                rows.append(row)
        else:
            row = np.zeros(len(classes))
            for value, count in Counter(ids.tolist()).items():
                row[index[int(value)]] += count
            rows.append(row)
    return np.array(rows).reshape(-1, len(classes))


def shift_p_value(train_units: np.ndarray, val_units: np.ndarray, permutations: int, seed: int) -> float:
    """How often two samples drawn from the pooled units differ by at least the observed total-variation
    distance: a permutation test. A unit is one row of class counts (a sample, or a whole batch when the
    targets are per step and positions within a sequence are not independent)."""
    pooled = np.concatenate([train_units, val_units]).astype(np.float64)
    n_train = len(train_units)
    if n_train == 0 or len(val_units) == 0:
        return 1.0

    def tvd(train_sum: np.ndarray, val_sum: np.ndarray) -> np.ndarray:
        p = train_sum / train_sum.sum(axis=-1, keepdims=True).clip(min=1e-12)
        q = val_sum / val_sum.sum(axis=-1, keepdims=True).clip(min=1e-12)
        distance: np.ndarray = 0.5 * np.abs(p - q).sum(axis=-1)
        return distance

    observed = tvd(train_units.sum(axis=0), val_units.sum(axis=0))
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((permutations, len(pooled))), axis=1)
    picked = np.zeros((permutations, len(pooled)))
    np.put_along_axis(picked, order[:, :n_train], 1.0, axis=1)
    train_sums = picked @ pooled
    val_sums = pooled.sum(axis=0) - train_sums
    extreme = int((tvd(train_sums, val_sums) >= observed - 1e-12).sum())
    return (1 + extreme) / (1 + permutations)


def describe_encoding(
    targets: torch.Tensor, task: Task, output_shape: tuple[int, ...] | None, loss: str
) -> TargetEncoding:
    t = targets.detach()
    finite = t[torch.isfinite(t)] if t.is_floating_point() else t
    as_float = finite.double() if finite.numel() else torch.zeros(1, dtype=torch.float64)
    same = output_shape is not None and tuple(t.shape) == output_shape
    return TargetEncoding(
        loss=loss,
        family=loss_family(loss),
        dtype=str(t.dtype),
        is_float=t.is_floating_point(),
        integer_valued=bool(finite.numel() and torch.equal(as_float, as_float.round())),
        target_shape=tuple(t.shape),
        output_shape=output_shape,
        min_value=float(as_float.min()),
        max_value=float(as_float.max()),
        one_hot=same and t.dim() >= 2 and is_one_hot(t, dim=task.class_axis or 1),
    )


def multilabel_stats(targets: list[torch.Tensor]) -> list[float]:
    stacked = torch.cat([t.reshape(t.shape[0], -1).double() for t in targets])
    return [round(float(v), 4) for v in stacked.mean(dim=0)]

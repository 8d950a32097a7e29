"""Data checks (RD101-RD111): measure the sampled batches, then judge the numbers.

These run before any training: they read targets and inputs, and at most one forward pass to learn
how many classes the model outputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rnndoctor.checks import judge_data as judge
from rnndoctor.core.crashes import diagnose_crash
from rnndoctor.core.findings import Finding
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, SkipCheck, register
from rnndoctor.runtime.batches import Batch, draw_sample, rereadable
from rnndoctor.runtime.facts import fact
from rnndoctor.runtime.layout import (
    Layout,
    embedding_rows,
    embedding_tables,
    padding_id,
    sequence_lengths,
    valid_lengths,
)
from rnndoctor.runtime.modality import SEQUENCES, first_layer, input_modality
from rnndoctor.runtime.recurrence import recurrent_modules
from rnndoctor.runtime.session import Forward, Session, UserCodeError
from rnndoctor.runtime.targets import MAX_TARGET_BATCHES_VIA_FORWARD, targets_of, task_facts
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

# ---------------------------------------------------------------------------------------------
# shared measurements
# ---------------------------------------------------------------------------------------------


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
            ctx.findings.append(diagnose_crash(exc.stage, exc.original, ctx.check_name))
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


# ---------------------------------------------------------------------------------------------
# labels: RD101 RD102 RD103 RD104 RD110
# ---------------------------------------------------------------------------------------------


@register
class LabelsCheck(Check):
    name = "labels"
    cost = 2
    quick = True
    description = "label distribution, class-id range, target encoding, train/val label shift"
    options = (
        Option(
            "min_single_class_samples",
            judge.MIN_SINGLE_CLASS_SAMPLES,
            "RD101: judged only on at least this many sampled targets",
            meaning="All targets being one class is judged only when the sample holds at least this many targets.",
            guards=("RD101",),
        ),
        Option(
            "imbalance_ratio",
            10.0,
            "RD102: majority/minority count ratio at or above which classes are imbalanced",
            meaning=(
                "Count of the most frequent class over the least frequent one at or above which the classes are "
                "called imbalanced."
            ),
            guards=("RD102",),
        ),
        Option(
            "min_samples_per_class",
            20,
            "RD102: judged only with at least this many sampled targets per class",
            meaning=(
                "Imbalance is judged only when the sampled targets hold at least this many per class, so a tiny "
                "sample does not raise it."
            ),
            guards=("RD102",),
        ),
        Option(
            "max_classes",
            100,
            "RD102: not judged above this many classes (vocabulary-like targets are skewed by nature)",
            meaning=(
                "Imbalance is not judged above this many classes: vocabulary-like targets (next-token prediction) are"
                " skewed by nature."
            ),
            guards=("RD102",),
        ),
        Option(
            "shift_tvd",
            0.15,
            "RD110: total-variation distance between train and val label distributions",
            meaning=(
                "Total-variation distance between the train and validation label distributions above which they are "
                "called different."
            ),
            guards=("RD110",),
        ),
        Option(
            "shift_p_value",
            0.001,
            "RD110: and no more than this share of train/val splits of the pooled samples differs as much",
            meaning=(
                "The difference must also be beyond sampling noise: at most this share of random splits of the pooled"
                " train and validation samples may differ as much (a permutation test)."
            ),
            guards=("RD110",),
            notes=(
                "(a fixed TVD alone fired on 16 sampled batches of a healthy LM; same-stream splits sit at p > 0.05)",
            ),
        ),
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
        Option(
            "regression_shift_smd",
            0.5,
            "RD110: standardized mean difference of regression targets",
            meaning=(
                "For regression targets: the standardized mean difference between train and validation targets above "
                "which they are called different."
            ),
            guards=("RD110",),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        task = task_of(ctx)
        targets = targets_of(session, "train")
        output_shape = fact(session, task_facts).output_shape
        metrics: dict[str, Any] = {"task": task.to_dict(), "batches": len(targets)}

        encoding = describe_encoding(targets[0], task, output_shape, session.loss_name)
        ctx.findings.extend(judge.judge_target_encoding(encoding))

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
            findings = self._regression_shift(ctx, finite) if task.kind == REGRESSION else []
            ctx.findings.extend(findings)
            return Outcome(f"{task.kind} targets; class checks do not apply", metrics)

        ids = np.concatenate(
            [class_ids(t, task, output_shape if t.shape == targets[0].shape else None) for t in targets]
        )
        counts = {int(k): int(v) for k, v in sorted(Counter(ids.tolist()).items())}
        sample_text = session.sample("train").describe()
        stats = judge.LabelStats(task.kind, counts, task.num_classes, session.loss_name, sample_text)
        ctx.publish("label_stats", stats)
        metrics.update(class_counts=counts, samples=int(ids.size), distinct_classes=len(counts))

        if task.kind != LANGUAGE_MODEL and len(counts) <= int(options["max_classes"]):
            ctx.findings.extend(
                judge.judge_imbalance(stats, float(options["imbalance_ratio"]), int(options["min_samples_per_class"]))
            )
        if task.num_classes is not None and loss_family(session.loss_name) == "index" and ids.size:
            out_of_range = int(((ids < 0) | (ids >= task.num_classes)).sum())
            ctx.findings.extend(
                judge.judge_class_range(
                    judge.RangeStats(
                        task.num_classes,
                        int(ids.min()),
                        int(ids.max()),
                        out_of_range,
                        int(ids.size),
                        task.ignore_index,
                        session.loss_name,
                    )
                )
            )
        if session.val_data is not None and task.kind != LANGUAGE_MODEL:
            val_targets = targets_of(session, "val")
            per_batch = [class_ids(t, task, output_shape if t.shape == targets[0].shape else None) for t in val_targets]
            val_ids = np.concatenate(per_batch) if per_batch else np.zeros(0, dtype=np.int64)
            val_counts = {int(k): int(v) for k, v in sorted(Counter(val_ids.tolist()).items())}
            metrics["val_class_counts"] = val_counts
            val_stats = judge.LabelStats(task.kind, val_counts, task.num_classes, session.loss_name)
            train_batches = [class_ids(t, task, output_shape if t.shape == targets[0].shape else None) for t in targets]
            labels = sorted(set(counts) | set(val_counts))
            p_value = judge.shift_p_value(
                shift_units(train_batches, labels, task),
                shift_units(per_batch, labels, task),
                int(options["shift_permutations"]),
                session.seed,
            )
            metrics["shift_p_value"] = p_value
            ctx.findings.extend(
                judge.judge_label_shift(
                    stats, val_stats, float(options["shift_tvd"]), float(options["shift_p_value"]), p_value
                )
            )
        classes = f"{len(counts)} class{'es' if len(counts) != 1 else ''}"
        return Outcome(f"{classes} over {ids.size} sampled targets ({task.kind})", metrics)

    def _regression_shift(self, ctx: CheckContext, train_values: torch.Tensor) -> list[Finding]:
        session = ctx.session
        if session.val_data is None or train_values.numel() < 2:
            return []
        val = torch.cat([t.reshape(-1).double() for t in targets_of(session, "val")])
        val = val[torch.isfinite(val)]
        if val.numel() < 2:
            return []
        return judge.judge_regression_shift(
            float(train_values.mean()),
            float(train_values.std()),
            float(val.mean()),
            float(val.std()),
            float(ctx.options["regression_shift_smd"]),
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


def describe_encoding(
    targets: torch.Tensor, task: Task, output_shape: tuple[int, ...] | None, loss: str
) -> judge.TargetEncoding:
    t = targets.detach()
    finite = t[torch.isfinite(t)] if t.is_floating_point() else t
    as_float = finite.double() if finite.numel() else torch.zeros(1, dtype=torch.float64)
    same = output_shape is not None and tuple(t.shape) == output_shape
    return judge.TargetEncoding(
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


# ---------------------------------------------------------------------------------------------
# inputs: RD105 RD106 RD107 RD108 RD109
# ---------------------------------------------------------------------------------------------


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

    def stats(self, name: str, shape: tuple[int, ...]) -> judge.FeatureStats | None:
        if self.total is None or self.total_sq is None or self.count < 2:
            return None
        mean = self.total / self.count
        var = (self.total_sq / self.count - mean * mean).clamp_min(0) * self.count / (self.count - 1)
        std = var.sqrt()
        # Round-off makes the variance of a constant feature a tiny positive number; call it zero.
        std = torch.where(std <= 1e-12 * mean.abs().clamp_min(1.0), torch.zeros_like(std), std)
        return judge.FeatureStats(self.count, mean.tolist(), std.tolist(), self.minimum, self.maximum, name, shape)


@register
class InputsCheck(Check):
    name = "inputs"
    cost = 1
    quick = True
    description = "non-finite values, feature scales, constant features, padding, token id range"
    options = (
        Option(
            "max_abs_mean",
            5.0,
            "RD106: a feature whose |mean| exceeds this is not centred",
            meaning="A feature whose absolute mean is above this is not centred.",
            guards=("RD106",),
        ),
        Option(
            "max_std",
            5.0,
            "RD106: a feature whose standard deviation exceeds this is not scaled",
            meaning="A feature whose standard deviation is above this is not scaled.",
            guards=("RD106",),
        ),
        Option(
            "std_ratio",
            1000.0,
            "RD106: largest/smallest feature standard deviation among varying features",
            meaning=(
                "Ratio of the largest to the smallest standard deviation among features that vary, above which the "
                "scales are too disparate."
            ),
            guards=("RD106",),
        ),
        Option(
            "constant_tolerance",
            0.0,
            "RD107: a feature whose standard deviation is at most this is constant",
            meaning="A feature whose standard deviation is at most this is constant.",
            guards=("RD107",),
        ),
        Option(
            "max_padding_share",
            0.5,
            "RD108: share of padded positions in the sampled batches",
            meaning='Share of padded positions in the sampled batches above which batches are "mostly padding".',
            guards=("RD108",),
        ),
        Option(
            "max_length_ratio",
            10.0,
            "RD108: longest/shortest sequence length in the sampled batches",
            meaning=(
                "Ratio of the longest to the shortest sequence in the sampled batches above which the length spread "
                "is extreme."
            ),
            guards=("RD108",),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        batches, layout = input_batches(session)
        tables = embedding_tables(session.model)
        pad = padding_id(session.model)
        features = FeatureAccumulator()
        nan = inf = total = 0
        target_nan = target_inf = target_total = 0
        lengths: list[int] = []
        length_sources: set[str] = set()
        max_steps = 0
        token_min, token_max, token_total = None, None, 0
        out_of_table = 0
        table_size = max((embedding_rows(t) for _, t in tables), default=None)
        shape: tuple[int, ...] = ()
        modality, integral, dtype = None, True, ""
        for batch in batches:
            inputs = batch.inputs.data if isinstance(batch.inputs, torch.nn.utils.rnn.PackedSequence) else batch.inputs
            if isinstance(batch.targets, torch.Tensor) and batch.targets.is_floating_point():
                target_nan += int(torch.isnan(batch.targets).sum())
                target_inf += int(torch.isinf(batch.targets).sum())
                target_total += batch.targets.numel()
            if not isinstance(inputs, torch.Tensor):
                continue
            inputs = inputs.detach().cpu()
            shape = tuple(inputs.shape)
            this = layout.resized(inputs) if layout is not None else None
            pixels = inputs.dtype == torch.uint8 and inputs.dim() >= 3
            tokens = not inputs.is_floating_point() and bool(tables) and not pixels
            if not inputs.is_floating_point() and not tables and not pixels:
                # Integer inputs without an embedding are ids the model encodes itself (one-hot, say),
                # not measurements whose scale could be judged.
                continue
            packed = isinstance(batch.inputs, torch.nn.utils.rnn.PackedSequence)
            found = None
            if this is not None and not packed:
                found = sequence_lengths(inputs, this, batch.lengths, pad if tokens else None)
            if found is not None and this is not None and this.steps is not None:
                batch_lengths, source = found
                lengths.extend(batch_lengths)
                length_sources.add(source)
                max_steps = max(max_steps, this.steps)
            if tokens:
                ids = inputs.reshape(-1)
                token_total += ids.numel()
                token_min = int(ids.min()) if token_min is None else min(token_min, int(ids.min()))
                token_max = int(ids.max()) if token_max is None else max(token_max, int(ids.max()))
                assert table_size is not None
                out_of_table += int(((ids < 0) | (ids >= table_size)).sum())
                continue
            values = inputs.double()
            nan += int(torch.isnan(values).sum())
            inf += int(torch.isinf(values).sum())
            total += values.numel()
            if isinstance(batch.inputs, torch.nn.utils.rnn.PackedSequence):
                features.add(values.reshape(values.shape[0], -1))
                continue
            modality = input_modality(inputs, session.model, this is not None and this.steps is not None)
            integral = integral and bool((values == values.round()).all())
            dtype = str(inputs.dtype)
            if modality.kind == SEQUENCES:
                features.add(valid_rows(values, this, found[0] if found else None))
            else:
                features.add(modality.rows(values))

        metrics: dict[str, Any] = {"batches": len(batches), "input_shape": list(shape)}
        ctx.findings.extend(judge.judge_non_finite("inputs", nan, inf, total))
        ctx.findings.extend(judge.judge_non_finite("targets", target_nan, target_inf, target_total))
        if token_total and token_min is not None and token_max is not None and table_size is not None:
            name = max(tables, key=lambda nt: embedding_rows(nt[1]))[0]
            metrics.update(token_min=token_min, token_max=token_max, embedding_rows=table_size)
            found_tokens = judge.judge_token_range(token_max, token_min, table_size, name, out_of_table, token_total)
            if found_tokens:
                session.unsafe_inputs = True
            ctx.findings.extend(found_tokens)
        stats = features.stats("inputs", shape)
        if stats is not None and modality is not None:
            stats = dataclasses.replace(stats, modality=modality.kind, integral=integral, dtype=dtype)
        if stats is not None:
            ctx.publish("input_feature_stats", stats)
            metrics.update(
                feature_mean=[round(v, 6) for v in stats.mean[:64]], feature_std=[round(v, 6) for v in stats.std[:64]]
            )
            thresholds = float(options["max_abs_mean"]), float(options["max_std"]), float(options["std_ratio"])
            unscaled = judge.judge_scales(stats, *thresholds)
            if unscaled:
                seen = scale_seen_by_first_rnn(session)
                if seen is not None and not judge.judge_scales(seen, *thresholds):
                    # The model normalizes its inputs itself (BatchNorm, LayerNorm, a scaling layer).
                    metrics["normalized_inside_model"] = True
                    unscaled = []
            ctx.findings.extend(unscaled)
            ctx.findings.extend(judge.judge_constant_features(stats, float(options["constant_tolerance"])))
        real_padding = {s for s in length_sources if s != "no padding found"}
        if lengths and real_padding:
            padding = judge.PaddingStats(lengths, max_steps, ", ".join(sorted(real_padding)))
            metrics.update(
                padding_share=round(padding.padding_share, 4), min_length=min(lengths), max_length=max(lengths)
            )
            ctx.findings.extend(
                judge.judge_padding(padding, float(options["max_padding_share"]), float(options["max_length_ratio"]))
            )
        kind = "token ids" if token_total else "no tensor inputs"
        if stats is not None and not token_total:
            kind = "float features" if stats.modality == SEQUENCES else stats.modality
        return Outcome(f"{kind} over {len(batches)} sampled batches", metrics)


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


def scale_seen_by_first_rnn(session: Session) -> judge.FeatureStats | None:
    """Per-feature moments of what the first recurrent layer (for other models: the first convolution or
    linear layer) receives, in training mode (one forward): a model or a ``forward`` function that scales
    its inputs itself makes raw-looking batches fine."""
    layers = recurrent_modules(session.model)
    if not layers:
        return _scale_seen_by_first_layer(session)
    seen: list[torch.Tensor] = []
    fused = isinstance(layers[0][1], torch.nn.RNNBase)

    def record(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        x = args[0] if args else None
        if isinstance(x, torch.nn.utils.rnn.PackedSequence):
            x = x.data
        if isinstance(x, torch.Tensor) and x.is_floating_point() and not (fused and seen):
            seen.append(x.detach().to("cpu", torch.float64))

    if not _forward_watching(session, layers[0][1], record) or not seen:
        return None
    accumulator = FeatureAccumulator()
    for x in seen:
        accumulator.add(x.reshape(-1, x.shape[-1]))
    return accumulator.stats("inputs as the first recurrent layer receives them", tuple(seen[0].shape))


def _forward_watching(session: Session, layer: torch.nn.Module, record: Callable[..., None]) -> bool:
    """One training-mode forward of the first batch with ``record`` watching ``layer``'s input; False when
    the user's code raised."""
    handle = layer.register_forward_pre_hook(record)
    try:
        session.model.train()
        session.forward(session.sample("train").batches[0])
    except UserCodeError:
        return False
    finally:
        handle.remove()
    return True


def _scale_seen_by_first_layer(session: Session) -> judge.FeatureStats | None:
    layer = first_layer(session.model)
    if layer is None or isinstance(layer, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
        return None
    seen: list[torch.Tensor] = []

    def record(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        x = args[0] if args else None
        if not seen and isinstance(x, torch.Tensor) and x.is_floating_point():
            seen.append(x.detach().to("cpu", torch.float64))

    if not _forward_watching(session, layer, record) or not seen:
        return None
    x = seen[0]
    modality = input_modality(x, session.model, x.dim() > 2)
    accumulator = FeatureAccumulator()
    accumulator.add(modality.rows(x))
    stats = accumulator.stats("inputs as the first layer receives them", tuple(x.shape))
    return dataclasses.replace(stats, modality=modality.kind) if stats is not None else None


# ---------------------------------------------------------------------------------------------
# leakage: RD111
# ---------------------------------------------------------------------------------------------


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
            "min_leak_share",
            0.05,
            "RD111: estimated share of validation samples also present in training",
            meaning="Estimated share of validation samples that also appear in training.",
            guards=("RD111",),
        ),
        Option(
            "min_duplicates",
            3,
            "RD111: and at least this many identical samples actually seen",
            meaning="Least number of identical train/validation samples actually found.",
            guards=("RD111",),
        ),
        Option(
            "chance_factor",
            3.0,
            "RD111: and this many times the duplicate rate found inside training itself",
            meaning=(
                "The cross-split duplicate rate must be at least this many times the duplicate rate inside training "
                "itself (so data with many natural repeats is not flagged)."
            ),
            guards=("RD111",),
        ),
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
        stats = judge.LeakStats(
            val_samples=len(val_prints),
            train_samples=train_total,
            overlap=len(overlap_indices),
            train_duplicate_share=duplicated / train_total,
            train_coverage=coverage,
            examples=overlap_indices[:5],
        )
        ctx.findings.extend(
            judge.judge_leakage(
                stats,
                float(ctx.options["min_leak_share"]),
                int(ctx.options["min_duplicates"]),
                float(ctx.options["chance_factor"]),
            )
        )
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

"""The inputs check (RD105-RD109): non-finite values, feature scales, constant features, padding and token
ids over the sampled batches, before any training."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from rnndoctor.core.errors import UserCodeError
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements import OnDemand
from rnndoctor.measurements.data import FeatureStats, NonFinite, PaddingStats, TokenRange
from rnndoctor.runtime.features import FeatureAccumulator, input_batches, valid_rows
from rnndoctor.runtime.layout import embedding_rows, embedding_tables, padding_id, sequence_lengths
from rnndoctor.runtime.modality import SEQUENCES, first_layer, input_modality
from rnndoctor.runtime.recurrence import recurrent_modules
from rnndoctor.runtime.session import Session


@register
class InputsCheck(Check):
    name = "inputs"
    cost = 1
    quick = True
    description = "non-finite values, feature scales, constant features, padding, token id range"

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
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
        ctx.publish(NonFinite("inputs", nan, inf, total))
        ctx.publish(NonFinite("targets", target_nan, target_inf, target_total))
        if token_total and token_min is not None and token_max is not None and table_size is not None:
            name = max(tables, key=lambda nt: embedding_rows(nt[1]))[0]
            metrics.update(token_min=token_min, token_max=token_max, embedding_rows=table_size)
            if out_of_table:
                session.unsafe_inputs = True  # a forward on these ids is a device-side assert on CUDA
            ctx.publish(TokenRange(token_max, token_min, table_size, name, out_of_table, token_total))
        stats = features.stats("inputs", shape)
        if stats is not None and modality is not None:
            stats = dataclasses.replace(stats, modality=modality.kind, integral=integral, dtype=dtype)
        if stats is not None:
            seen = OnDemand(lambda: scale_seen_by_first_rnn(session))
            stats.seen_by_model = seen
            judged = ctx.publish(stats)
            metrics.update(
                feature_mean=[round(v, 6) for v in stats.mean[:64]], feature_std=[round(v, 6) for v in stats.std[:64]]
            )
            if seen.taken and seen() is not None and not any(f.code == "RD106" for f in judged):
                metrics["normalized_inside_model"] = True  # the model normalizes its inputs itself
        real_padding = {s for s in length_sources if s != "no padding found"}
        if lengths and real_padding:
            padding = PaddingStats(lengths, max_steps, ", ".join(sorted(real_padding)))
            metrics.update(
                padding_share=round(padding.padding_share, 4), min_length=min(lengths), max_length=max(lengths)
            )
            ctx.publish(padding)
        kind = "token ids" if token_total else "no tensor inputs"
        if stats is not None and not token_total:
            kind = "float features" if stats.modality == SEQUENCES else stats.modality
        return Outcome(f"{kind} over {len(batches)} sampled batches", metrics)


def scale_seen_by_first_rnn(session: Session) -> FeatureStats | None:
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


def _scale_seen_by_first_layer(session: Session) -> FeatureStats | None:
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

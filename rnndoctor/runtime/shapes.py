"""Which layer a shape mismatch in the forward pass comes from, and which layer fed it.

torch says "mat1 and mat2 shapes cannot be multiplied (32x128 and 64x2)": true, and no help. Running the same
batch again with a pre-hook on every ``nn.Linear`` finds the first one whose input's last axis differs from
its ``in_features``, and hooks on the recurrent layers say which of them produced that many features: a
bidirectional layer outputs both directions side by side, 2 x hidden_size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnndoctor.core.errors import SkipCheck, UnusableData, UserCodeError
from rnndoctor.runtime.recurrence import RECURRENT_TYPES, cell_kind, unwrap

SHAPE_ERRORS = ("mat1 and mat2 shapes cannot be multiplied", "size mismatch", "must match the size of tensor")
"""Fragments of torch's messages for a matrix product of the wrong sizes."""


@dataclass(frozen=True)
class LayerMismatch:
    layer: str
    in_features: int
    out_features: int
    received: int
    producer: str | None = None
    """The recurrent layer whose output has ``received`` features, when one has."""
    producer_kind: str = ""
    bidirectional: bool = False
    hidden_size: int | None = None


class _Found(Exception):
    """Stops the forward pass at the mismatched layer."""


def is_shape_error(error: BaseException) -> bool:
    return any(fragment in str(error) for fragment in SHAPE_ERRORS)


def find_layer_mismatch(session: Any, raw: Any) -> LayerMismatch | None:
    """The first Linear layer fed the wrong number of features on ``raw``, with the recurrent layer that
    produced them; None when the forward passes or fails elsewhere."""
    model = unwrap(session.model)
    produced: list[tuple[str, nn.Module, int]] = []
    found: list[LayerMismatch] = []

    def record(name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            first = output[0] if isinstance(output, (tuple, list)) else output
            if isinstance(first, nn.utils.rnn.PackedSequence):
                first = first.data
            if isinstance(first, torch.Tensor) and first.dim() > 0:
                produced.append((name, module, int(first.shape[-1])))

        return hook

    def check(name: str) -> Any:
        def hook(module: nn.Linear, args: Any) -> None:
            x = args[0] if args else None
            if not isinstance(x, torch.Tensor) or x.dim() == 0 or int(x.shape[-1]) == module.in_features:
                return
            received = int(x.shape[-1])
            source = next(((n, m) for n, m, size in reversed(produced) if size == received), None)
            found.append(
                LayerMismatch(
                    name,
                    int(module.in_features),
                    int(module.out_features),
                    received,
                    producer=source[0] if source else None,
                    producer_kind=cell_kind(source[1]) if source else "",
                    bidirectional=bool(getattr(source[1], "bidirectional", False)) if source else False,
                    hidden_size=int(getattr(source[1], "hidden_size", 0)) or None if source else None,
                )
            )
            raise _Found

        return hook

    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            handles.append(module.register_forward_pre_hook(check(name)))
        elif isinstance(module, RECURRENT_TYPES):
            handles.append(module.register_forward_hook(record(name)))
    was_training = session.model.training
    session.model.eval()
    try:
        session.forward(raw, grad=False)
    except (UserCodeError, UnusableData, SkipCheck):
        pass
    finally:
        for handle in handles:
            handle.remove()
        session.model.train(was_training)
    return found[0] if found else None

"""Recurrent modules as users build them: fused layers (nn.LSTM/GRU/RNN) and cells (nn.LSTMCell/GRUCell/
RNNCell) stepped in a Python loop, possibly inside nn.DataParallel; and the hidden states they carry.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnndoctor.core.snippets import RecurrentLayer

RECURRENT_TYPES = (nn.RNNBase, nn.RNNCellBase)
ZEROS = "zeros"
"""The `hidden:` value asking rnndoctor to build zero states itself."""


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module inside nn.DataParallel / DistributedDataParallel wrappers."""
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def recurrent_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every recurrent layer or cell, in registration order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, RECURRENT_TYPES)]


def fused_layers(model: nn.Module) -> list[tuple[str, nn.RNNBase]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.RNNBase)]


def named_layers(model: nn.Module) -> list[RecurrentLayer]:
    """The fused recurrent layers as the user's code names them (inside any DataParallel wrapper), for the
    fix snippets (`rnndoctor.core.snippets`)."""
    return [
        RecurrentLayer(
            name,
            cell_kind(module),
            bidirectional=bool(module.bidirectional),
            num_layers=int(module.num_layers),
            batch_first=bool(module.batch_first),
            input_size=int(module.input_size),
            hidden_size=int(module.hidden_size),
        )
        for name, module in fused_layers(unwrap(model))
    ]


def cell_kind(module: nn.Module) -> str:
    """LSTM, GRU or RNN for a layer or a cell."""
    if isinstance(module, (nn.LSTM, nn.LSTMCell)):
        return "LSTM"
    if isinstance(module, (nn.GRU, nn.GRUCell)):
        return "GRU"
    mode = str(getattr(module, "mode", ""))
    return {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")


def declared_batch_first(model: nn.Module) -> bool | None:
    """The first fused recurrent layer's ``batch_first`` (cells have no such flag: None)."""
    layers = fused_layers(model)
    return bool(layers[0][1].batch_first) if layers else None


def zero_state(model: nn.Module, batch_size: int) -> Any:
    """Zero initial state for the first recurrent module, in the form its forward takes."""
    modules = recurrent_modules(model)
    if not modules:
        raise LookupError("the model has no recurrent layer or cell to build a zero state for")
    _, module = modules[0]
    weight = next(module.parameters())
    hidden = int(getattr(module, "hidden_size"))  # noqa: B009 - nn.Module's __getattr__ is typed loosely
    if isinstance(module, nn.RNNBase):
        layers = module.num_layers * (2 if module.bidirectional else 1)
        h = weight.new_zeros(layers, batch_size, module.proj_size or hidden)
        if isinstance(module, nn.LSTM):
            return h, weight.new_zeros(layers, batch_size, hidden)
        return h
    h = weight.new_zeros(batch_size, hidden)
    return (h, torch.zeros_like(h)) if isinstance(module, nn.LSTMCell) else h


def detach_state(state: Any) -> Any:
    """The state with every tensor cut from its graph (truncated backpropagation through time)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    return state


def batch_seen(module: nn.Module, args: tuple[Any, ...]) -> int | None:
    """How many sequences a recurrent layer or cell receives in a call (its own reading of its input)."""
    if not args:
        return None
    x = args[0]
    if isinstance(x, nn.utils.rnn.PackedSequence):
        return int(x.batch_sizes[0])
    if not isinstance(x, torch.Tensor):
        return None
    if isinstance(module, nn.RNNBase):
        if x.dim() == 2:
            return 1
        return int(x.shape[0 if module.batch_first else 1]) if x.dim() == 3 else None
    return 1 if x.dim() == 1 else int(x.shape[0])

"""How rnndoctor calls the user's model on a batch, and telling its own call apart from the user's bug.

Without a ``forward`` function the model is called ``model(inputs[, lengths][, hidden])`` (contract §3). A
dict batch often holds more that the model's forward takes by name: a Hugging Face-style batch with
``batch_keys: {inputs: input_ids, targets: labels}`` also holds ``attention_mask``. Those keys are passed
as keyword arguments (`keyword_arguments`), as the user's own loop passes them. When the call still does not
fit the forward (a required argument the batch lacks, or one left at its default None that the forward then
uses), the crash is rnndoctor's convention failing, not the user's line: `convention_problem` says so, and
the session reports the batch as unreadable (RD002, naming ``forward``) instead of blaming the user's code.
"""

from __future__ import annotations

import inspect
import linecache
import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from rnndoctor.runtime.recurrence import unwrap

MODEL_KEYWORDS = frozenset(
    {
        "attention_mask",
        "token_type_ids",
        "position_ids",
        "head_mask",
        "decoder_input_ids",
        "decoder_attention_mask",
        "pixel_mask",
        "padding_mask",
        "src_key_padding_mask",
        "mask",
    }
)
"""Batch keys passed to a forward that takes ``**kwargs`` (one that names its arguments gets exactly those)."""


def _signature(model: nn.Module) -> inspect.Signature | None:
    try:
        return inspect.signature(unwrap(model).forward)
    except (TypeError, ValueError):
        return None


def keyword_arguments(model: nn.Module, raw: Any, used: Sequence[Any], positional: int) -> dict[str, Any]:
    """The entries of a dict batch, other than those at ``used`` (inputs, targets, lengths), that the model's
    forward takes by name beyond its first ``positional`` arguments; tensors fitted to the inputs' shape."""
    if not isinstance(raw, Mapping):
        return {}
    signature = _signature(model)
    if signature is None:
        return {}
    parameters = list(signature.parameters.values())
    filled = {p.name for p in parameters[:positional] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)}
    named = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - filled
    open_ended = any(p.kind is p.VAR_KEYWORD for p in parameters)
    inputs = raw.get(used[0]) if used else None
    return {
        key: fitted(value, inputs)
        for key, value in raw.items()
        if isinstance(key, str) and key not in used and (key in named or (open_ended and key in MODEL_KEYWORDS))
    }


def fitted(value: Any, inputs: Any) -> Any:
    """A per-position tensor (an attention mask) cut or zero-padded to the inputs' leading shape, so that it
    still fits inputs a probe lengthened (padding appended: masked out) or a check cut to fewer samples."""
    if not isinstance(value, torch.Tensor) or not isinstance(inputs, torch.Tensor):
        return value
    if value.dim() == 0 or value.dim() > inputs.dim() or value.shape == inputs.shape[: value.dim()]:
        return value
    for axis in range(value.dim()):
        want, have = int(inputs.shape[axis]), int(value.shape[axis])
        if have > want:
            value = value.narrow(axis, 0, want)
        elif have < want:
            shape = list(value.shape)
            shape[axis] = want - have
            value = torch.cat([value, value.new_zeros(shape)], dim=axis)
    return value.to(inputs.device)


def describe_call(model: nn.Module, args: Sequence[Any], kwargs: Mapping[str, Any], names: Sequence[str]) -> str:
    """``model(input_ids, attention_mask=...)``: the call rnndoctor made, in the batch's names."""
    shown = [*names[: len(args)], *(f"{key}=..." for key in kwargs)]
    return f"model({', '.join(shown)})"


def convention_problem(model: nn.Module, args: Sequence[Any], kwargs: Mapping[str, Any], error: BaseException) -> str:
    """Why the call itself, not the user's code, is at fault, or "" when it is not: the arguments do not bind
    to the forward's signature, or the forward failed on a ``None`` in an argument it was not given."""
    signature = _signature(model)
    if signature is None:
        return ""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        return f"its forward{signature} does not take these arguments ({exc})"
    defaulted = [name for name, p in signature.parameters.items() if name not in bound.arguments and p.default is None]
    used = _none_used_at_the_crash(error, defaulted)
    if used:
        return f"its forward failed on {used}=None, left at its default because the batch holds no {used!r}"
    return ""


def convention_failure(
    model: nn.Module,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    error: BaseException,
    slots: Sequence[Any],
    with_lengths: bool,
) -> str:
    """What to tell the user when rnndoctor's way of calling the model failed, not their code ("" otherwise).
    ``slots`` are the batch's names for its inputs, targets and lengths (keys, or positions)."""
    problem = convention_problem(model, args, kwargs, error)
    if not problem:
        return ""
    names = [str(slots[0]) if isinstance(slots[0], str) else "inputs"]
    if with_lengths:
        names.append(str(slots[2]) if isinstance(slots[2], str) else "lengths")
    call = describe_call(model, args, kwargs, [*names, "hidden"])
    return (
        f"rnndoctor called the model as {call}, but {problem}; set batch_keys so the batch names what the forward "
        "takes, or give forward: steps.py:forward_batch calling the model as your training loop does"
    )


def _none_used_at_the_crash(error: BaseException, names: Sequence[str]) -> str | None:
    """The parameter, among ``names``, that is None in a frame of the traceback whose failing line uses it."""
    traceback = error.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        line = linecache.getline(frame.f_code.co_filename, traceback.tb_lineno)
        for name in names:
            if name in frame.f_locals and frame.f_locals[name] is None and re.search(rf"\b{name}\b", line):
                return name
        traceback = traceback.tb_next
    return None

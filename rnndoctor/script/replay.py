"""Replay a script's forward pass: the model called as the script called it, and the loss input computed
from its output the way the script computed it.

The script's code between the model and the loss (``output.view(-1, ntokens)``, ``out[:, -1]``,
``F.log_softmax(out, dim=1)``) is read back from the autograd graph of the loss input: a chain of shape
operations and elementwise activations from one of the model's output tensors. Anything else (arithmetic
with other tensors, several outputs combined) is not replayed, and the checks that need a forward pass
say so instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.script.records import tensors_in

MAX_CHAIN = 12


@dataclass(frozen=True)
class Operation:
    """One step from the model's output to the loss input."""

    name: str
    params: tuple[Any, ...] = ()
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()

    def apply(self, tensor: torch.Tensor) -> torch.Tensor:
        name, params = self.name, self.params
        if name == "view":
            return tensor.reshape(_resized(self.output_shape, self.input_shape, tuple(tensor.shape)))
        if name == "squeeze":
            return tensor.reshape(_resized(self.output_shape, self.input_shape, tuple(tensor.shape)))
        if name == "unsqueeze":
            return tensor.unsqueeze(params[0])
        if name == "transpose":
            return tensor.transpose(params[0], params[1])
        if name == "permute":
            return tensor.permute(*params)
        if name == "select":
            dim, index = params
            size = tensor.shape[dim]
            original = self.input_shape[dim] if self.input_shape else size
            # An index counted from the end (out[:, -1]) stays at the end when the length differs.
            return tensor.select(dim, index - original + size if index == original - 1 else index)
        if name == "slice":
            dim, start, end, step = params
            return tensor[(slice(None),) * dim + (slice(start, end, step),)]
        if name in ("softmax", "log_softmax"):
            function: Callable[..., torch.Tensor] = torch.softmax if name == "softmax" else torch.log_softmax
            return function(tensor, dim=params[0])
        if name in ELEMENTWISE:
            return ELEMENTWISE[name](tensor)
        if name == "identity":
            return tensor
        raise ValueError(name)


ELEMENTWISE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "exp": torch.exp,
    "log": torch.log,
    "relu": torch.relu,
}

_NODE_NAMES = {
    "ViewBackward0": "view",
    "UnsafeViewBackward0": "view",
    "ReshapeAliasBackward0": "view",
    "SqueezeBackward0": "squeeze",
    "SqueezeBackward1": "squeeze",
    "SqueezeBackward2": "squeeze",
    "UnsqueezeBackward0": "unsqueeze",
    "TransposeBackward0": "transpose",
    "TransposeBackward1": "transpose",
    "PermuteBackward0": "permute",
    "SelectBackward0": "select",
    "SliceBackward0": "slice",
    "SoftmaxBackward0": "softmax",
    "LogSoftmaxBackward0": "log_softmax",
    "SigmoidBackward0": "sigmoid",
    "TanhBackward0": "tanh",
    "ExpBackward0": "exp",
    "LogBackward0": "log",
    "ReluBackward0": "relu",
    "CloneBackward0": "identity",
    "ToCopyBackward0": "identity",
    "AliasBackward0": "identity",
}


def _resized(output_shape: tuple[int, ...], input_shape: tuple[int, ...], actual: tuple[int, ...]) -> tuple[int, ...]:
    """A reshape's target for an input whose size differs from the one observed (fewer samples): the
    dimension that changed in proportion takes the rest (-1)."""
    if actual == input_shape:
        return output_shape
    numel_before = 1
    for size in input_shape:
        numel_before *= size
    numel_now = 1
    for size in actual:
        numel_now *= size
    if numel_before == 0 or numel_now == numel_before:
        return output_shape
    ratio = numel_now / numel_before
    for index, size in enumerate(output_shape):
        scaled = size * ratio
        if size and abs(scaled - round(scaled)) < 1e-9 and round(scaled) >= 1 and scaled != size:
            return (*output_shape[:index], -1, *output_shape[index + 1 :])
    return output_shape


def _params(name: str, node: Any) -> tuple[Any, ...]:
    if name == "transpose":
        return (int(node._saved_dim0), int(node._saved_dim1))
    if name == "permute":
        return tuple(int(d) for d in node._saved_dims)
    if name == "select":
        return (int(node._saved_dim), int(node._saved_index))
    if name == "slice":
        end = int(node._saved_end)
        return (int(node._saved_dim), int(node._saved_start), None if end >= 2**62 else end, int(node._saved_step))
    if name in ("softmax", "log_softmax", "unsqueeze"):
        return (int(node._saved_dim),)
    return ()


def _input_shape(node: Any) -> tuple[int, ...]:
    sizes = getattr(node, "_saved_self_sym_sizes", None)
    return tuple(int(s) for s in sizes) if sizes is not None else ()


@dataclass(frozen=True)
class Link:
    """The loss input as a function of the model's output: which output tensor, then which operations."""

    output_index: int
    operations: tuple[Operation, ...]

    def apply(self, output: Any) -> torch.Tensor:
        tensors = tensors_in(output)
        tensor = tensors[self.output_index]
        for operation in self.operations:
            tensor = operation.apply(tensor)
        return tensor

    def describe(self) -> str:
        if not self.operations:
            return "the model's output" if self.output_index == 0 else f"output tensor {self.output_index}"
        return " → ".join(op.name for op in self.operations)


class NotReplayable(Exception):
    """The loss input was computed in a way the replay cannot repeat; the message says how."""


def find_link(output: Any, loss_input: torch.Tensor) -> Link:
    """How ``loss_input`` was computed from ``output`` (a module call's output), read from autograd."""
    candidates = tensors_in(output)
    for index, tensor in enumerate(candidates):
        if tensor is loss_input:
            return Link(index, ())
    nodes = {id(t.grad_fn): i for i, t in enumerate(candidates) if t.grad_fn is not None}
    chain: list[Operation] = []
    node = loss_input.grad_fn
    shape_after = tuple(loss_input.shape)
    for _ in range(MAX_CHAIN):
        if node is None:
            break
        if id(node) in nodes:
            return Link(nodes[id(node)], tuple(reversed(chain)))
        kind = type(node).__name__
        name = _NODE_NAMES.get(kind)
        inputs = [n for n, _ in node.next_functions if n is not None]
        if name is None or len(inputs) != 1:
            raise NotReplayable(f"the loss input comes from the model's output through {kind}")
        shape_before = _input_shape(node)
        chain.append(Operation(name, _params(name, node), shape_before, shape_after))
        shape_after = shape_before or shape_after
        node = inputs[0]
    raise NotReplayable("the loss input is not computed from the trained model's output")


def check_link(link: Link, output: Any, loss_input: torch.Tensor) -> bool:
    """Whether replaying ``link`` on ``output`` gives ``loss_input`` back."""
    try:
        with torch.no_grad():
            again = link.apply(output)
    except (IndexError, RuntimeError, ValueError):
        return False
    return again.shape == loss_input.shape and bool(torch.allclose(again, loss_input.detach(), equal_nan=True))

"""Model-structure checks (RD201-RD205, RD208, RD212, RD213) from the module tree and real forwards.

Declared settings are read from the modules; what each recurrent layer actually receives is recorded
by forward pre-hooks during one forward pass, stopped at the first mismatch so the numbers, not torch's
crash, explain it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnndoctor.core.errors import SkipCheck, UserCodeError
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.model import (
    CarriedState,
    FedLayer,
    LayerAxes,
    RnnLayer,
    UnregisteredModules,
    UnregisteredScan,
)
from rnndoctor.runtime.recurrence import cell_kind, recurrent_modules
from rnndoctor.runtime.session import Session

GATES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n"), "RNN": ("h",)}


class _StopForward(Exception):
    """Raised from a pre-hook to stop a forward pass whose input was already found wrong."""


def describe_layer(name: str, module: nn.Module, max_hidden: int) -> RnnLayer:
    kind = cell_kind(module)
    cell = isinstance(module, nn.RNNCellBase)
    settings: dict[str, Any] = vars(module)
    layer = RnnLayer(
        name=name or "<model>",
        kind=kind,
        input_size=int(settings["input_size"]),
        hidden_size=int(settings["hidden_size"]),
        num_layers=int(settings.get("num_layers", 1)),
        batch_first=bool(settings.get("batch_first", False)),
        bidirectional=bool(settings.get("bidirectional", False)),
        dropout=float(settings.get("dropout", 0.0)),
        nonlinearity=str(settings.get("nonlinearity", "tanh")),
        cell=cell,
    )
    if layer.hidden_size <= max_hidden:
        layer.spectral_radius = spectral_radii(module, kind)
    return layer


def spectral_radii(module: nn.Module, kind: str) -> dict[str, float]:
    """Largest |eigenvalue| of each gate's hidden-to-hidden block of every layer and direction."""
    radii = {}
    gates = GATES.get(kind, ("h",))
    with torch.no_grad():
        for name, weight in module.named_parameters():
            if not name.startswith("weight_hh") or weight.dim() != 2:
                continue
            w = weight.detach().to("cpu", torch.float64)
            hidden = w.shape[1]
            for index, gate in enumerate(gates):
                block = w[index * hidden : (index + 1) * hidden]
                if block.shape[0] != block.shape[1]:
                    continue
                radii[f"{name}[{gate}]"] = float(torch.linalg.eigvals(block).abs().max())
    return radii


class InputRecorder:
    """Pre-hooks recording what each recurrent layer receives; stops the pass at a size mismatch. A cell is
    called once per time step: its steps are its calls."""

    def __init__(self, layers: list[tuple[str, nn.Module]], described: dict[str, RnnLayer]) -> None:
        self.described = described
        self.order: list[str] = []
        self.handles = [module.register_forward_pre_hook(self._hook(name)) for name, module in layers]

    def _hook(self, name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            layer = self.described[name or "<model>"]
            if layer.cell and layer.name in self.order:
                layer.steps = (layer.steps or 0) + 1
                return
            if not args or layer.name in self.order:
                return
            self.order.append(layer.name)
            if layer.cell:
                layer.steps = 1
            x = args[0]
            if isinstance(x, nn.utils.rnn.PackedSequence):
                layer.packed = True
                layer.received_features = int(x.data.shape[-1])
                layer.received_shape = tuple(x.data.shape)
                layer.steps = int(x.batch_sizes.numel())
            elif isinstance(x, torch.Tensor):
                layer.received_shape = tuple(x.shape)
                layer.received_features = int(x.shape[-1])
                if layer.cell:
                    pass
                elif x.dim() == 3:
                    layer.steps = int(x.shape[1] if layer.batch_first else x.shape[0])
                elif x.dim() == 2:
                    layer.steps = int(x.shape[0])
            if layer.received_features is not None and layer.received_features != layer.input_size:
                raise _StopForward()

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def unregistered_containers(model: nn.Module) -> list[UnregisteredModules]:
    registered = {id(p) for p in model.parameters()}
    found = []
    for owner_name, owner in model.named_modules():
        for attribute, value in vars(owner).items():
            if attribute.startswith("_") or isinstance(value, nn.Module):
                continue
            if isinstance(value, dict):
                items, container = list(value.values()), "dict"
            elif isinstance(value, (list, tuple)):
                items, container = list(value), type(value).__name__
            else:
                continue
            modules = [v for v in items if isinstance(v, nn.Module)]
            loose = [v for v in items if isinstance(v, nn.Parameter)]
            params = [p for m in modules for p in m.parameters()] + loose
            if not params:
                continue
            found.append(
                UnregisteredModules(
                    attribute=f"{owner_name}.{attribute}" if owner_name else attribute,
                    container=container,
                    modules=len(modules) + len(loose),
                    parameters=sum(p.numel() for p in params),
                    registered_parameters=sum(p.numel() for p in params if id(p) in registered),
                )
            )
    return found


def graph_attached_state(model: nn.Module) -> list[str]:
    """Module attributes (not parameters or buffers) holding tensors that are part of an autograd graph."""
    names = []
    for owner_name, owner in model.named_modules():
        for attribute, value in vars(owner).items():
            if attribute.startswith("_"):
                continue
            values = value if isinstance(value, (tuple, list)) else (value,)
            if any(isinstance(v, torch.Tensor) and v.grad_fn is not None for v in values):
                names.append(f"{owner_name}.{attribute}" if owner_name else f"self.{attribute}")
    return names


def probe_carried_state(session: Session, raw: Any) -> tuple[list[str], str | None]:
    """Two training steps on the same batch: does the second backward hit the first batch's graph?"""
    session.model.train()
    first = session.forward(raw, grad=True)
    attached = graph_attached_state(session.model)
    if not attached:
        return [], None
    try:
        first_loss = session.scalar_loss(first.outputs, first.targets)
    except UserCodeError:
        return [], None  # the loss check reports a loss that cannot be computed
    session.backward(first_loss)
    session.model.zero_grad(set_to_none=True)
    second = session.forward(raw, grad=True)
    try:
        session.backward(session.scalar_loss(second.outputs, second.targets))
    except UserCodeError as exc:
        return attached, str(exc.original).strip().splitlines()[0][:200]
    return attached, None


@register
class StructureCheck(Check):
    name = "structure"
    cost = 2
    quick = True
    description = "recurrent layers as declared and as fed, hidden-state handling, registered modules"
    options = (
        Option(
            "max_hidden_for_eigen",
            2048,
            "RD208: larger recurrent matrices are not decomposed (cost)",
            meaning="Larger recurrent matrices are not decomposed (cost bound).",
            guards=("RD208",),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        model = session.model
        ctx.publish(UnregisteredScan(unregistered_containers(model), sum(p.numel() for p in model.parameters())))
        layers = recurrent_modules(model)
        described = {
            (name or "<model>"): describe_layer(name, module, int(options["max_hidden_for_eigen"]))
            for name, module in layers
        }
        for layer in described.values():
            ctx.publish(layer)
        raw = session.sample("train").batches[0]
        recorder = InputRecorder(layers, described)
        stopped = False
        try:
            model.eval()
            session.forward(raw)
        except UserCodeError as exc:
            if not isinstance(exc.original, _StopForward):
                raise
            stopped = True
        finally:
            recorder.remove()
        first = described[recorder.order[0]] if recorder.order else None
        for name in recorder.order:
            ctx.publish(FedLayer(described[name]))
        layout = session.layout() if first is not None and not stopped else None
        if first is not None and layout is not None and not first.cell and not layout.from_layer:
            ctx.publish(LayerAxes(first, layout.samples))
        if not stopped:
            ctx.publish(CarriedState(*probe_carried_state(session, raw)))
        metrics = {
            "recurrent_layers": [
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "input_size": layer.input_size,
                    "hidden_size": layer.hidden_size,
                    "received_shape": list(layer.received_shape) if layer.received_shape else None,
                    "max_spectral_radius": max(layer.spectral_radius.values(), default=None),
                }
                for layer in described.values()
            ]
        }
        metrics_out: dict[str, Any] = dict(metrics)
        if layout is not None:
            metrics_out["layout"] = layout.describe()
        if not described:
            general = "submodule registration and carried state checked"
            if not ctx.findings:
                raise SkipCheck(f"no recurrent layers ({general}: fine)")
            return Outcome(f"no recurrent layers; {general}", metrics_out)
        kinds = ", ".join(sorted({f"{layer.kind}{'Cell' if layer.cell else ''}" for layer in described.values()}))
        return Outcome(f"{len(described)} recurrent module(s): {kinds}", metrics_out)

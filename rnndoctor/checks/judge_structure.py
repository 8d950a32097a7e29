"""Pure judgements of the model-structure checks (RD201-RD205, RD208, RD212, RD213)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnndoctor.findings import Finding
from rnndoctor.registry import make_finding


@dataclass
class RnnLayer:
    """One recurrent module as declared, and what it received in one forward pass."""

    name: str
    kind: str
    input_size: int
    hidden_size: int
    num_layers: int
    batch_first: bool
    bidirectional: bool = False
    dropout: float = 0.0
    nonlinearity: str = "tanh"
    received_features: int | None = None
    received_shape: tuple[int, ...] | None = None
    packed: bool = False
    steps: int | None = None
    cell: bool = False
    """An LSTMCell/GRUCell/RNNCell stepped by the model's own loop (one call per time step)."""
    spectral_radius: dict[str, float] = field(default_factory=dict)
    """Largest |eigenvalue| of each recurrent weight block, e.g. {"weight_hh_l0[f]": 0.6}."""


@dataclass
class UnregisteredModules:
    attribute: str
    container: str
    modules: int
    parameters: int
    registered_parameters: int


def judge_input_size(layer: RnnLayer) -> list[Finding]:
    """RD201: the last axis of what the RNN received differs from its input_size."""
    if layer.received_features is None or layer.received_features == layer.input_size:
        return []
    return [
        make_finding(
            "RD201",
            f"'{layer.name}' ({layer.kind}) was built with input_size={layer.input_size} but receives "
            f"{layer.received_features} features per step (input shape {list(layer.received_shape or ())}). "
            "The forward pass raises before any training.",
            f"Build the layer from the data's feature size:\n\n```python\nself.{layer.name.split('.')[-1]} = "
            f"nn.{layer.kind}(input_size={layer.received_features}, hidden_size={layer.hidden_size}"
            f"{', batch_first=True' if layer.batch_first else ''})\n# or derive it: input_size=x.shape[-1]\n```",
            {
                "layer": layer.name,
                "input_size": layer.input_size,
                "received_features": layer.received_features,
                "received_shape": list(layer.received_shape or ()),
            },
        )
    ]


def judge_swapped_axes(layer: RnnLayer, batch_size: int | None) -> list[Finding]:
    """RD202: the axis the RNN treats as batch does not hold the batch, and the other axis does."""
    shape = layer.received_shape
    if batch_size is None or shape is None or layer.packed or len(shape) != 3:
        return []
    batch_axis, time_axis = (0, 1) if layer.batch_first else (1, 0)
    if shape[batch_axis] == batch_size or shape[time_axis] != batch_size:
        return []
    flag = "batch_first=True" if not layer.batch_first else "batch_first=False"
    return [
        make_finding(
            "RD202",
            f"'{layer.name}' has batch_first={layer.batch_first}, so it reads axis {batch_axis} of its "
            f"{list(shape)} input as the batch, but the batch of {batch_size} samples is on axis {time_axis}. "
            f"It runs over the {batch_size} samples as if they were time steps and mixes them into one "
            f"sequence; each 'sample' it sees is one time step ({shape[batch_axis]} of them).",
            f"Declare the layout the data has:\n\n```python\nself.{layer.name.split('.')[-1]} = "
            f"nn.{layer.kind}({layer.input_size}, {layer.hidden_size}, {flag})\n```\n\nor transpose the "
            "inputs with `x.transpose(0, 1)` (and read the outputs with the matching layout).",
            {
                "layer": layer.name,
                "batch_first": layer.batch_first,
                "input_shape": list(shape),
                "batch_size": batch_size,
                "axis_holding_batch": time_axis,
            },
            confidence=0.8,
        )
    ]


def judge_vanilla_long(layer: RnnLayer, long_sequence: int) -> list[Finding]:
    """RD203: a plain nn.RNN over more than ``long_sequence`` steps."""
    if layer.kind != "RNN" or layer.steps is None or layer.steps <= long_sequence:
        return []
    return [
        make_finding(
            "RD203",
            f"'{layer.name}' is a vanilla nn.RNN run over {layer.steps} time steps. Its gradient is a product "
            f"of {layer.steps} Jacobians, so it vanishes (or explodes) long before reaching the start of the "
            "sequence: the model can only use the last few steps.",
            f"Use a gated cell:\n\n```python\nself.{layer.name.split('.')[-1]} = nn.LSTM({layer.input_size}, "
            f"{layer.hidden_size}{', batch_first=True' if layer.batch_first else ''})   # or nn.GRU\n```",
            {"layer": layer.name, "steps": layer.steps, "threshold": long_sequence},
        )
    ]


def judge_relu_rnn(layer: RnnLayer) -> list[Finding]:
    """RD204: a ReLU vanilla RNN, whose hidden state is unbounded."""
    if layer.kind != "RNN" or layer.nonlinearity != "relu":
        return []
    radius = max(layer.spectral_radius.values(), default=None)
    note = f" The recurrent weights' spectral radius is {radius:.2f}." if radius is not None else ""
    return [
        make_finding(
            "RD204",
            f"'{layer.name}' is nn.RNN(nonlinearity='relu'). Unlike tanh, ReLU does not bound the hidden "
            "state, so any recurrent gain above 1 compounds over time steps into huge activations and "
            f"gradients (NaN loss) unless weights are initialized near identity and gradients clipped.{note}",
            "Prefer tanh or a gated cell; if you keep ReLU, start from the identity and clip:\n\n```python\n"
            f"nn.init.eye_({layer.name.split('.')[-1]}.weight_hh_l0)\n"
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n```",
            {"layer": layer.name, "spectral_radius": radius},
        )
    ]


def judge_useless_dropout(layer: RnnLayer) -> list[Finding]:
    """RD205: dropout > 0 on a single-layer RNN, where it is never applied."""
    if layer.dropout <= 0 or layer.num_layers > 1:
        return []
    return [
        make_finding(
            "RD205",
            f"'{layer.name}' has dropout={layer.dropout} and num_layers=1. The RNN's dropout acts only "
            "between stacked layers, so here it does nothing and the model is not regularized as intended.",
            "Apply dropout to the RNN's output yourself (or stack layers):\n\n```python\n"
            f"self.drop = nn.Dropout({layer.dropout})\nout, _ = self.{layer.name.split('.')[-1]}(x)\n"
            "out = self.drop(out)\n```",
            {"layer": layer.name, "dropout": layer.dropout, "num_layers": layer.num_layers},
        )
    ]


def judge_recurrent_scale(layer: RnnLayer, max_radius: float, min_radius: float) -> list[Finding]:
    """RD208: the largest recurrent spectral radius above ``max_radius`` or all below ``min_radius``."""
    if not layer.spectral_radius:
        return []
    block, radius = max(layer.spectral_radius.items(), key=lambda kv: kv[1])
    if min_radius <= radius <= max_radius:
        return []
    if radius > max_radius:
        effect = (
            f"a signal carried through the recurrence grows like {radius:.2f}^t: after 20 steps by "
            f"{radius**20:.3g}x, so activations saturate and gradients explode"
        )
    else:
        effect = "the hidden state forgets everything between steps, so nothing can be carried through time"
    return [
        make_finding(
            "RD208",
            f"The recurrent weights of '{layer.name}' have spectral radius {radius:.3g} (block {block}); "
            f"healthy initializations sit near 0.5-1. At this scale {effect}.",
            "Use PyTorch's default initialization, or an orthogonal one for the recurrent weights:\n\n"
            f"```python\nfor name, p in model.{layer.name}.named_parameters():\n    if 'weight_hh' in name:\n"
            "        nn.init.orthogonal_(p)\n```",
            {"layer": layer.name, "block": block, "spectral_radius": radius, "all_blocks": layer.spectral_radius},
        )
    ]


def judge_unregistered(found: list[UnregisteredModules], total_parameters: int) -> list[Finding]:
    """RD213: submodules or parameters held in plain Python containers."""
    findings = []
    for item in found:
        missing = item.parameters - item.registered_parameters
        if missing <= 0:
            continue
        share = missing / max(total_parameters + missing, 1)
        wrapper = "nn.ModuleList" if item.container in ("list", "tuple") else "nn.ModuleDict"
        findings.append(
            make_finding(
                "RD213",
                f"'{item.attribute}' is a plain Python {item.container} holding {item.modules} module(s) with "
                f"{missing} parameters ({share:.0%} of the model). PyTorch does not register them: they are "
                "missing from model.parameters(), so the optimizer never updates them, .to(device) does not "
                "move them, and state_dict() does not save them.",
                f"Wrap the container so its modules are registered:\n\n```python\nself.{item.attribute.split('.')[-1]}"
                f" = {wrapper}(...)\n```",
                {
                    "attribute": item.attribute,
                    "container": item.container,
                    "modules": item.modules,
                    "unregistered_parameters": missing,
                    "share_of_model": share,
                },
            )
        )
    return findings


def judge_carried_state(attributes: list[str], error: str | None) -> list[Finding]:
    """RD212: a hidden state stored on the module keeps the previous batch's freed graph alive, so the
    second backward pass fails."""
    if not attributes or error is None:
        return []
    return [
        make_finding(
            "RD212",
            f"The model stores its hidden state in {', '.join(attributes)} and feeds it into the next batch "
            f"without detaching it: the second backward pass raised '{error}'. Training crashes on the second "
            "batch, or, with retain_graph=True, backpropagates through every earlier batch, ever slower and "
            "with growing memory.",
            "Detach the carried state at the start of each batch (truncated backpropagation through time):\n\n"
            "```python\nif self.hidden is not None:\n    self.hidden = tuple(h.detach() for h in self.hidden)\n"
            "out, self.hidden = self.lstm(x, self.hidden)\n```",
            {"attributes": attributes, "error": error},
        )
    ]

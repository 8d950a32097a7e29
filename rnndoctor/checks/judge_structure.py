"""Pure judgements of the model-structure checks (RD201-RD205, RD208, RD212, RD213)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, get_rule, snippet
from rnndoctor.core.findings import Finding, Severity


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


def _layer_words(layer: RnnLayer) -> dict[str, str]:
    """How the fix snippets name the layer: its attribute and its batch_first argument."""
    return {
        "attr": layer.name.split(".")[-1],
        "kind": layer.kind,
        "bf": ", batch_first=True" if layer.batch_first else "",
    }


def judge_input_size(layer: RnnLayer) -> list[Finding]:
    """RD201: the last axis of what the RNN received differs from its input_size."""
    if layer.received_features is None or layer.received_features == layer.input_size:
        return []
    evidence = {
        "layer": layer.name,
        "input_size": layer.input_size,
        "received_features": layer.received_features,
        "received_shape": list(layer.received_shape or ()),
        "hidden_size": layer.hidden_size,
    }
    return [get_rule("RD201").finding(evidence, _layer_words(layer))]


def judge_swapped_axes(layer: RnnLayer, batch_size: int | None) -> list[Finding]:
    """RD202: the axis the RNN treats as batch does not hold the batch, and the other axis does."""
    shape = layer.received_shape
    if batch_size is None or shape is None or layer.packed or len(shape) != 3:
        return []
    batch_axis, time_axis = (0, 1) if layer.batch_first else (1, 0)
    if shape[batch_axis] == batch_size or shape[time_axis] != batch_size:
        return []
    evidence = {
        "layer": layer.name,
        "batch_first": layer.batch_first,
        "input_shape": list(shape),
        "batch_size": batch_size,
        "axis_holding_batch": time_axis,
    }
    words = {
        **_layer_words(layer),
        "read_axis": batch_axis,
        "read_size": shape[batch_axis],
        "input_size": layer.input_size,
        "hidden_size": layer.hidden_size,
        "flag": "batch_first=True" if not layer.batch_first else "batch_first=False",
    }
    return [get_rule("RD202").finding(evidence, words, confidence=0.8)]


def judge_vanilla_long(layer: RnnLayer, long_sequence: int) -> list[Finding]:
    """RD203: a plain nn.RNN over more than ``long_sequence`` steps."""
    if layer.kind != "RNN" or layer.steps is None or layer.steps <= long_sequence:
        return []
    words = {**_layer_words(layer), "input_size": layer.input_size, "hidden_size": layer.hidden_size}
    return [get_rule("RD203").finding({"layer": layer.name, "steps": layer.steps, "threshold": long_sequence}, words)]


def judge_relu_rnn(layer: RnnLayer) -> list[Finding]:
    """RD204: a ReLU vanilla RNN, whose hidden state is unbounded."""
    if layer.kind != "RNN" or layer.nonlinearity != "relu":
        return []
    radius = max(layer.spectral_radius.values(), default=None)
    note = f" The recurrent weights' spectral radius is {radius:.2f}." if radius is not None else ""
    return [
        get_rule("RD204").finding(
            {"layer": layer.name, "spectral_radius": radius}, {**_layer_words(layer), "note": note}
        )
    ]


def judge_useless_dropout(layer: RnnLayer) -> list[Finding]:
    """RD205: dropout > 0 on a single-layer RNN, where it is never applied."""
    if layer.dropout <= 0 or layer.num_layers > 1:
        return []
    evidence = {"layer": layer.name, "dropout": layer.dropout, "num_layers": layer.num_layers}
    return [get_rule("RD205").finding(evidence, _layer_words(layer))]


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
    evidence = {"layer": layer.name, "block": block, "spectral_radius": radius, "all_blocks": layer.spectral_radius}
    return [get_rule("RD208").finding(evidence, {"effect": effect})]


def judge_unregistered(found: list[UnregisteredModules], total_parameters: int) -> list[Finding]:
    """RD213: submodules or parameters held in plain Python containers."""
    findings = []
    for item in found:
        missing = item.parameters - item.registered_parameters
        if missing <= 0:
            continue
        evidence = {
            "attribute": item.attribute,
            "container": item.container,
            "modules": item.modules,
            "unregistered_parameters": missing,
            "share_of_model": missing / max(total_parameters + missing, 1),
        }
        words = {
            "attr": item.attribute.split(".")[-1],
            "wrapper": "nn.ModuleList" if item.container in ("list", "tuple") else "nn.ModuleDict",
        }
        findings.append(get_rule("RD213").finding(evidence, words))
    return findings


def judge_carried_state(attributes: list[str], error: str | None) -> list[Finding]:
    """RD212: a hidden state stored on the module keeps the previous batch's freed graph alive, so the
    second backward pass fails."""
    if not attributes or error is None:
        return []
    return [get_rule("RD212").finding({"attributes": attributes, "error": error}, {"where": ", ".join(attributes)})]


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD201",
        crashes=(
            CrashSignature(
                r"input\.size\(-1\) must be equal to input_size|input_size.*expected \d+, got \d+", ("forward",)
            ),
        ),
        checks=("structure",),
        message=(
            "'{layer}' ({kind}) was built with input_size={input_size} but receives {received_features} features per "
            "step (input shape {received_shape}). The forward pass raises before any training."
        ),
        remedy=(
            "Build the layer from the data's feature size:\n\n```python\nself.{attr} = nn.{kind}(input_size="
            "{received_features}, hidden_size={hidden_size}{bf})\n# or derive it: input_size=x.shape[-1]\n```"
        ),
        variants={
            "crash": Wording(
                message=(
                    "The {stage_words} raised an error: the inputs' feature size does not match the RNN's input_size. "
                    "{error}"
                ),
                remedy=(
                    "Make the RNN's input_size equal the last axis of the inputs (`nn.LSTM(input_size=x.shape[-1], "
                    "...)`)."
                ),
            ),
        },
        title="input feature size differs from the RNN's input_size",
        severity=Severity.ERROR,
        what=(
            "Records, with a forward pre-hook on every recurrent layer, the feature size of what the layer "
            "actually receives and compares it with its input_size; the pass stops at the first mismatch, so the "
            'finding carries both numbers. A crash with "input.size(-1) must be equal to input_size" elsewhere is'
            " reported under this code too, quoting the error."
        ),
        why=(
            "A recurrent layer multiplies each step's input by a weight matrix with input_size columns, so "
            "any other feature count cannot be computed. It usually means the features changed (a column "
            "added, a one-hot encoding widened) without updating the constructor, or a univariate series was "
            "passed as (batch, time) without a trailing feature axis of size 1."
        ),
        symptoms=(
            '"RuntimeError: input.size(-1) must be equal to input_size. Expected 8, got 50" on the first '
            "batch (for a (batch, time) tensor the second number is the sequence length)."
        ),
        fix=(
            "Build the layer with input_size equal to the input's last dimension (derive it from the data), "
            "and add a feature axis to univariate series with x.unsqueeze(-1)."
        ),
        before=snippet(
            """
            rnn = nn.LSTM(input_size=8, hidden_size=64, batch_first=True)
            x = series_batch                          # (batch, time): no feature axis
            out, _ = rnn(x)
            """
        ),
        after=snippet(
            """
            x = series_batch.unsqueeze(-1)            # (batch, time, 1)
            rnn = nn.LSTM(input_size=x.size(-1), hidden_size=64, batch_first=True)
            out, _ = rnn(x)
            """
        ),
        explains=("RD001", "RD503", "RD505"),
    ),
    Rule(
        code="RD202",
        checks=(
            "structure",
            "probes",
        ),
        message=(
            "'{layer}' has batch_first={batch_first}, so it reads axis {read_axis} of its {input_shape} input as the "
            "batch, but the batch of {batch_size} samples is on axis {axis_holding_batch}. It runs over the "
            "{batch_size} samples as if they were time steps and mixes them into one sequence; each 'sample' it "
            "sees is one time step ({read_size} of them)."
        ),
        remedy=(
            "Declare the layout the data has:\n\n```python\nself.{attr} = nn.{kind}({input_size}, {hidden_size}, "
            "{flag})\n```\n\nor transpose the inputs with `x.transpose(0, 1)` (and read the outputs with the "
            "matching layout)."
        ),
        variants={
            "probe": Wording(
                message=(
                    "The output for sample {worst_sample} depends on time step {worst_sample} of all "
                    "{samples_touched} samples and on nothing else: the model treats the batch axis as time and the "
                    "time axis as the batch (a batch_first mismatch). Each prediction mixes the whole batch at one "
                    "time step."
                ),
                remedy=(
                    "Make the recurrent layer's layout match the data:\n\n```python\n"
                    "self.rnn = nn.LSTM(input_size, hidden_size, batch_first=True)"
                    "   # data is (batch, time, features)\n```"
                ),
            )
        },
        title="time and batch axes swapped (batch_first mismatch)",
        severity=Severity.ERROR,
        what=(
            "Records the shape each recurrent layer receives and compares the axis its batch_first flag reads as "
            "the batch with the batch size of the targets; it reports when the batch sits on the other axis, i.e."
            " the layer would run over the samples as if they were time steps."
        ),
        why=(
            "A (batch, time, features) tensor given to a layer built with batch_first=False is a valid "
            "shape, so nothing raises. The recurrence then runs across the samples of the batch while real "
            "time steps are treated as independent sequences: information leaks between samples and no "
            "sample's own history is ever modelled."
        ),
        symptoms=(
            "No error at all; the loss barely falls, validation stays near chance, and results change with "
            "batch size or shuffling."
        ),
        fix=(
            "Set batch_first=True when the data is (batch, time, features), or transpose the input to (time, "
            "batch, features); then read the output along the matching axis."
        ),
        before=snippet(
            """
            rnn = nn.LSTM(input_size=16, hidden_size=64)       # expects (time, batch, features)
            out, _ = rnn(batch_x)                              # batch_x: (batch, time, features)
            last = out[:, -1]
            """
        ),
        after=snippet(
            """
            rnn = nn.LSTM(input_size=16, hidden_size=64, batch_first=True)
            out, _ = rnn(batch_x)                              # out: (batch, time, hidden)
            last = out[:, -1]
            """
        ),
        explains=("RD207", "RD304", "RD305", "RD403", "RD503", "RD506"),
    ),
    Rule(
        code="RD203",
        checks=("structure",),
        message=(
            "'{layer}' is a vanilla nn.RNN run over {steps} time steps. Its gradient is a product of {steps} "
            "Jacobians, so it vanishes (or explodes) long before reaching the start of the sequence: the model "
            "can only use the last few steps."
        ),
        remedy=(
            "Use a gated cell:\n\n```python\nself.{attr} = nn.LSTM({input_size}, {hidden_size}{bf})   # or nn.GRU\n```"
        ),
        title="vanilla RNN on long sequences",
        severity=Severity.WARNING,
        what=(
            "Finds plain nn.RNN (Elman) layers and the number of time steps they actually receive, and reports "
            "when a sequence is longer than the `long_sequence` threshold (100 steps by default)."
        ),
        why=(
            "The gradient flowing back through a tanh RNN is multiplied at every step by the recurrent "
            "weights and the tanh derivative, so it shrinks or grows geometrically with the number of steps. "
            "Dependencies further back than a few dozen steps receive practically no gradient. LSTM and GRU "
            "carry their state through gated, mostly additive updates that keep a path with gain near one."
        ),
        symptoms=(
            "The model only uses the last few steps of each sequence; tasks that need long memory stay at "
            "chance; the gradient reaching early time steps is tiny (see RD403)."
        ),
        fix=(
            "Replace nn.RNN with nn.GRU or nn.LSTM (same call, but an LSTM's state is a pair (h, c)), or cut "
            "the sequences into shorter pieces."
        ),
        before=snippet(
            """
            self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
            out, h_n = self.rnn(x)                    # x: (batch, 500, features)
            """
        ),
        after=snippet(
            """
            self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)
            out, h_n = self.rnn(x)
            """
        ),
        explains=("RD403", "RD402"),
    ),
    Rule(
        code="RD204",
        checks=("structure",),
        message=(
            "'{layer}' is nn.RNN(nonlinearity='relu'). Unlike tanh, ReLU does not bound the hidden state, so any "
            "recurrent gain above 1 compounds over time steps into huge activations and gradients (NaN loss) "
            "unless weights are initialized near identity and gradients clipped.{note}"
        ),
        remedy=(
            "Prefer tanh or a gated cell; if you keep ReLU, start from the identity and clip:\n\n```python\n"
            "nn.init.eye_({attr}.weight_hh_l0)\ntorch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)"
            "\n```"
        ),
        title="ReLU vanilla RNN without safeguards",
        severity=Severity.WARNING,
        what=(
            "Finds nn.RNN layers built with nonlinearity='relu', whose hidden state is unbounded; the spectral "
            "radius of their recurrent weights is given as evidence."
        ),
        why=(
            "ReLU does not saturate, so nothing bounds the hidden state. With a recurrent matrix whose "
            "spectral radius is above one, state and gradients grow geometrically with the number of steps "
            "until they overflow to Inf and NaN. ReLU RNNs train only with identity-like recurrent "
            "initialization, a modest learning rate and gradient clipping."
        ),
        symptoms=(
            "Loss explodes to inf or nan within the first steps or epochs, sooner on longer sequences; "
            "hidden activations reach huge values."
        ),
        fix=(
            "Use tanh, a GRU or an LSTM; if you keep ReLU, initialize the recurrent weights to a scaled "
            "identity with zero recurrent bias and clip the gradient norm at every step."
        ),
        before=snippet(
            """
            rnn = nn.RNN(16, 128, nonlinearity="relu", batch_first=True)
            loss.backward()
            optimizer.step()
            """
        ),
        after=snippet(
            """
            rnn = nn.RNN(16, 128, nonlinearity="relu", batch_first=True)
            with torch.no_grad():
                rnn.weight_hh_l0.copy_(torch.eye(128))
                rnn.bias_hh_l0.zero_()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(rnn.parameters(), max_norm=1.0)
            optimizer.step()
            """
        ),
        explains=("RD401", "RD502"),
    ),
    Rule(
        code="RD205",
        checks=("structure",),
        message=(
            "'{layer}' has dropout={dropout} and num_layers=1. The RNN's dropout acts only between stacked "
            "layers, so here it does nothing and the model is not regularized as intended."
        ),
        remedy=(
            "Apply dropout to the RNN's output yourself (or stack layers):\n\n```python\n"
            "self.drop = nn.Dropout({dropout})\nout, _ = self.{attr}(x)\nout = self.drop(out)\n```"
        ),
        title="RNN dropout has no effect with num_layers=1",
        severity=Severity.INFO,
        what=(
            "Reads the dropout and num_layers settings of every nn.RNN, nn.LSTM and nn.GRU and reports "
            "layers that set dropout above zero with a single layer."
        ),
        why=(
            "The built-in dropout of PyTorch's recurrent layers is applied only between stacked layers, to "
            "the output of every layer except the last. With one layer there is nowhere to apply it, so the "
            "model trains with no regularization from it at all; PyTorch only warns once when the layer is "
            "built."
        ),
        symptoms=(
            "A UserWarning at construction saying dropout is added after all but the last recurrent layer; "
            "the model overfits exactly as much as without the setting."
        ),
        fix=("Apply nn.Dropout to the RNN's output before the head, or stack more layers if that is what you want."),
        before=snippet(
            """
            self.rnn = nn.LSTM(32, 128, num_layers=1, dropout=0.3, batch_first=True)
            self.head = nn.Linear(128, num_classes)
            """
        ),
        after=snippet(
            """
            self.rnn = nn.LSTM(32, 128, num_layers=1, batch_first=True)
            self.drop = nn.Dropout(0.3)
            self.head = nn.Linear(128, num_classes)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(self.drop(out[:, -1]))
            """
        ),
    ),
    Rule(
        code="RD208",
        checks=("structure",),
        message=(
            "The recurrent weights of '{layer}' have spectral radius {spectral_radius:.3g} (block {block}); healthy "
            "initializations sit near 0.5-1. At this scale {effect}."
        ),
        remedy=(
            "Use PyTorch's default initialization, or an orthogonal one for the recurrent weights:\n\n```python\n"
            "for name, p in model.{layer}.named_parameters():\n    if 'weight_hh' in name:\n"
            "        nn.init.orthogonal_(p)\n```"
        ),
        title="recurrent weight scale far from stable",
        severity=Severity.WARNING,
        what=(
            "Computes the spectral radius (largest absolute eigenvalue) of each recurrent weight matrix, per "
            "gate block for LSTM and GRU, and reports values far above or far below 1."
        ),
        why=(
            "Every step multiplies the hidden state, and on the way back the gradient, by the recurrent "
            "weights. A radius well above one amplifies both geometrically and drives the gates into "
            "saturation; a radius well below one makes them fade, so the network forgets within a few steps. "
            "Custom initializations such as normal_(std=1) on a large hidden size, or very small values, "
            "land far from one."
        ),
        symptoms=(
            "Above one: loss spikes, saturated gates, nan. Below one: the model only uses the last few steps "
            "and the gradient through time vanishes."
        ),
        fix=(
            "Initialize each recurrent gate block orthogonally (nn.init.orthogonal_), the input weights with "
            "a Xavier scheme and the biases to zero, instead of a fixed-std normal."
        ),
        before=snippet(
            """
            for name, p in lstm.named_parameters():
                nn.init.normal_(p, std=1.0)               # spectral radius ~ sqrt(hidden_size)
            """
        ),
        after=snippet(
            """
            for name, p in lstm.named_parameters():
                if "weight_hh" in name:
                    for block in p.data.chunk(4, dim=0):  # the four LSTM gates
                        nn.init.orthogonal_(block)
                elif "weight_ih" in name:
                    nn.init.xavier_uniform_(p)
                else:
                    nn.init.zeros_(p)
            """
        ),
        explains=("RD209", "RD401", "RD402", "RD403"),
    ),
    Rule(
        code="RD212",
        crashes=(CrashSignature(r"backward through the graph a second time", ("backward", "train_step")),),
        checks=("structure",),
        message=(
            "The model stores its hidden state in {where} and feeds it into the next batch without detaching it: "
            "the second backward pass raised '{error}'. Training crashes on the second batch, or, with "
            "retain_graph=True, backpropagates through every earlier batch, ever slower and with growing memory."
        ),
        remedy=(
            "Detach the carried state at the start of each batch (truncated backpropagation through time):\n\n"
            "```python\nif self.hidden is not None:\n    self.hidden = tuple(h.detach() for h in self.hidden)\n"
            "out, self.hidden = self.lstm(x, self.hidden)\n```"
        ),
        variants={
            "crash": Wording(
                message=(
                    "The {stage_words} raised an error: a hidden state kept from an earlier batch still points into "
                    "that batch's freed graph. {error}"
                ),
                remedy=(
                    "Detach the carried state at the start of each batch: `self.hidden = tuple(h.detach() for h in "
                    "self.hidden)`."
                ),
            ),
        },
        title="hidden state carried across batches without detach",
        severity=Severity.ERROR,
        what=(
            "When a module keeps a tensor that is part of an autograd graph as an attribute after the forward "
            "pass (a stored hidden state), runs two training steps on the same batch and reports when the second "
            "backward fails because the stored state still points into the first batch's freed graph."
        ),
        why=(
            "Carrying the state from batch to batch (truncated backpropagation through time) without "
            "detaching it links each batch's graph to all earlier ones. Backward then either raises, because "
            "the earlier graph was already freed, or, with retain_graph=True, runs through the whole history "
            "so that time and memory grow with every step."
        ),
        symptoms=(
            '"RuntimeError: Trying to backward through the graph a second time" on the second batch; or, '
            "with retain_graph=True, steps that get slower and memory that climbs until CUDA runs out of "
            "memory."
        ),
        fix=(
            "Detach the hidden state at each batch boundary (both h and c for an LSTM) and do not use "
            "retain_graph=True as a workaround."
        ),
        before=snippet(
            """
            hidden = None
            for x, y in loader:
                out, hidden = model(x, hidden)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            """
        ),
        after=snippet(
            """
            hidden = None
            for x, y in loader:
                if hidden is not None:
                    hidden = tuple(h.detach() for h in hidden)   # LSTM state (h, c)
                out, hidden = model(x, hidden)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            """
        ),
        explains=("RD401", "RD404"),
    ),
    Rule(
        code="RD213",
        checks=("structure",),
        message=(
            "'{attribute}' is a plain Python {container} holding {modules} module(s) with {unregistered_parameters} "
            "parameters ({share_of_model:.0%} of the model). PyTorch does not register them: they are missing "
            "from model.parameters(), so the optimizer never updates them, .to(device) does not move them, and "
            "state_dict() does not save them."
        ),
        remedy=("Wrap the container so its modules are registered:\n\n```python\nself.{attr} = {wrapper}(...)\n```"),
        title="submodules held in a plain list or dict (parameters unregistered)",
        severity=Severity.ERROR,
        what=(
            "Walks the model's attributes for Python lists, tuples and dicts holding nn.Module or "
            "nn.Parameter objects and reports the parameters inside them that model.parameters() does not "
            "return."
        ),
        why=(
            "nn.Module registers a submodule only when it is assigned as an attribute directly or held in a "
            "ModuleList, ModuleDict or ParameterList. Anything inside a plain container is invisible to "
            "model.parameters(), so the optimizer never updates it, .to(device) does not move it and "
            "state_dict() does not save it."
        ),
        symptoms=(
            'Those layers never change during training; "Expected all tensors to be on the same device" '
            "after model.to('cuda'); weights missing after reloading a checkpoint."
        ),
        fix=(
            "Hold submodules in nn.ModuleList or nn.ModuleDict, and loose parameters in nn.ParameterList or "
            "nn.ParameterDict."
        ),
        before=snippet(
            """
            self.layers = [nn.GRU(64, 64, batch_first=True) for _ in range(3)]
            self.heads = {"tag": nn.Linear(64, 17), "chunk": nn.Linear(64, 9)}
            """
        ),
        after=snippet(
            """
            self.layers = nn.ModuleList(nn.GRU(64, 64, batch_first=True) for _ in range(3))
            self.heads = nn.ModuleDict({"tag": nn.Linear(64, 17), "chunk": nn.Linear(64, 9)})
            """
        ),
        explains=("RD210", "RD503", "RD505"),
    ),
)

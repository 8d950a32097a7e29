"""TRANSITION: the remedies not yet moved beside their rules."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from rnndoctor.core.findings import Finding
from rnndoctor.core.remedies import _REMEDIES, Remedy, Trial
from rnndoctor.runtime.batches import BatchFormatError, replace_part
from rnndoctor.runtime.layout import SINGLE, padding_id, sequence_lengths
from rnndoctor.runtime.modality import SEQUENCES, input_modality
from rnndoctor.runtime.patches import *  # noqa: F403
from rnndoctor.runtime.patches import (
    Patch,
    _held_by,
    state_detached as _state_detached,
    class_ids as _class_ids,
    clip_gradients as _clip,
    log_probabilities as _log_probabilities,
)
from rnndoctor.runtime.recurrence import recurrent_modules
from rnndoctor.runtime.session import ArgumentKey, Session
from rnndoctor.runtime.task import loss_family


def remedy(*codes: str) -> Callable[[Remedy], Remedy]:
    def register(function: Remedy) -> Remedy:
        for code in codes:
            _REMEDIES[code] = function
        return function

    return register


# ---------------------------------------------------------------------------------------------
# the remedies
# ---------------------------------------------------------------------------------------------

_TINY = 1e-12


def _log_probabilities(p: torch.Tensor) -> torch.Tensor:
    return p.clamp_min(_TINY).log()


def _logits_of(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(_TINY, 1 - 1e-7)
    return p.log() - (-p).log1p()


@remedy("RD501", "RD502", "RD405")
def learning_rate(session: Session, finding: Finding) -> list[Trial] | str:
    from rnndoctor.runtime.facts import known
    from rnndoctor.runtime.stepping import LearningRate, rate_response
    from rnndoctor.runtime.sweep import learning_rate_sweep

    response = rate_response(session)
    if response is not None and not response.follows_rate:
        return "the train_step ignores the optimizer's learning rate"
    suggested = finding.evidence.get("suggested_lr")
    if not isinstance(suggested, float):
        sweep = known(session, learning_rate_sweep)
        suggested = sweep.reported_lr if sweep is not None else None
    if not isinstance(suggested, float) or not suggested > 0:
        return "the learning-rate sweep made no suggestion"
    configured = LearningRate(session.optimizer).configured
    return [Trial(f"learning rate {configured:.2g} → {suggested:.2g}", lr=suggested)]


@remedy("RD302")
def activation_removed(session: Session, finding: Finding) -> list[Trial] | str:
    # log(softmax(z)) is z up to a per-row constant that softmax cancels, so the loss then sees the scores
    # the model had before its last activation: the same as deleting the activation from forward().
    if finding.evidence.get("loss") == "BCEWithLogitsLoss":
        return [Trial("the sigmoid before BCEWithLogitsLoss removed", [loss_inputs_adapted(outputs=_logits_of)])]
    return [Trial("the softmax before CrossEntropyLoss removed", [loss_inputs_adapted(outputs=_log_probabilities)])]


@remedy("RD303")
def probabilities_restored(session: Session, finding: Finding) -> list[Trial] | str:
    loss = str(finding.evidence.get("loss", session.loss_name))
    probabilities = bool(finding.evidence.get("probabilities"))
    if loss == "BCELoss":
        return [Trial("BCELoss → BCEWithLogitsLoss", [loss_inputs_adapted(outputs=torch.sigmoid)])]
    if probabilities:
        return [Trial("log() of the probabilities before the loss", [loss_inputs_adapted(outputs=_log_probabilities)])]
    if loss == "NLLLoss":
        return [
            Trial(
                "NLLLoss → CrossEntropyLoss (log-softmax over the class axis)",
                [loss_inputs_adapted(outputs=lambda z: torch.log_softmax(z, dim=1 if z.dim() > 1 else 0))],
            )
        ]
    return [
        Trial(
            "log_softmax over the last axis before the loss",
            [loss_inputs_adapted(outputs=lambda z: torch.log_softmax(z, dim=-1))],
        )
    ]


def _class_ids(targets: torch.Tensor, outputs_shape: tuple[int, ...]) -> torch.Tensor:
    if tuple(targets.shape) == outputs_shape and targets.dim() >= 2:
        return targets.argmax(dim=-1 if targets.dim() == 2 else 1)
    return (
        targets.reshape(targets.shape[0], *targets.shape[2:])
        if targets.dim() >= 2 and targets.shape[1] == 1
        else targets
    )


class _CrossEntropyOnClassIds:
    """CrossEntropyLoss fed class ids whatever form the targets came in (one-hot rows, float ids, (N, 1))."""

    def __init__(self, loss_fn: Any) -> None:
        self._inner = torch.nn.CrossEntropyLoss(weight=getattr(loss_fn, "weight", None))

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss: torch.Tensor = self._inner(outputs, _class_ids(targets, tuple(outputs.shape)).long())
        return loss


@remedy("RD301", "RD308")
def classification_loss(session: Session, finding: Finding) -> list[Trial] | str:
    shape = tuple(finding.evidence.get("output_shape") or session.reference().outputs.shape)
    if len(shape) < 2 or shape[-1] < 2:
        if set(finding.evidence.get("target_values") or ()) <= {0.0, 1.0}:

            def logits_loss(loss_fn: Any) -> Any:
                inner = torch.nn.BCEWithLogitsLoss()
                return lambda out, tgt: inner(out, tgt.float().reshape(out.shape))

            return [
                Trial(f"{session.loss_name} → BCEWithLogitsLoss", [loss_replaced(logits_loss, "BCEWithLogitsLoss")])
            ]
        return "the model has one output per sample; a classifier needs one score per class"
    return [
        Trial(
            f"{session.loss_name} → CrossEntropyLoss on class ids",
            [loss_replaced(_CrossEntropyOnClassIds, "CrossEntropyLoss")],
        )
    ]


def _float_targets_like_outputs() -> Patch:
    def make(loss_fn: Any) -> Any:
        def call(outputs: Any, targets: Any) -> Any:
            if isinstance(outputs, torch.Tensor) and isinstance(targets, torch.Tensor):
                targets = targets.to(outputs.dtype)
                if targets.numel() == outputs.numel():
                    targets = targets.reshape(outputs.shape)
            return loss_fn(outputs, targets)

        return call

    return loss_replaced(make)


@remedy("RD304")
def shapes_matched(session: Session, finding: Finding) -> list[Trial] | str:
    def reshape(loss_fn: Any) -> Any:
        def call(outputs: Any, targets: Any) -> Any:
            tensors = isinstance(outputs, torch.Tensor) and isinstance(targets, torch.Tensor)
            if tensors and outputs.numel() == targets.numel():
                outputs = outputs.reshape(targets.shape)
            return loss_fn(outputs, targets)

        return call

    output_shape, target_shape = finding.evidence.get("output_shape"), finding.evidence.get("target_shape")
    if output_shape and target_shape and math.prod(output_shape) != math.prod(target_shape):
        return f"outputs {output_shape} and targets {target_shape} hold different numbers of values"
    return [Trial("outputs reshaped to the targets' shape (.squeeze(-1))", [loss_replaced(reshape)])]


@remedy("RD305")
def class_axis_moved(session: Session, finding: Finding) -> list[Trial] | str:
    return [
        Trial("outputs.permute(0, 2, 1): classes on axis 1", [loss_inputs_adapted(outputs=lambda z: z.movedim(-1, 1))])
    ]


def input_word(session: Session) -> str:
    inputs = session.reference().model_input
    if not isinstance(inputs, torch.Tensor):
        return "feature"
    return input_modality(inputs, session.model, inputs.dim() > 2).feature_word


def _standardizer(
    means: list[float], stds: list[float], model: torch.nn.Module | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Standardize per feature: along the modality's feature axis (an image's channels) when ``model`` is
    given, else along the last axis."""
    mean = torch.tensor(means, dtype=torch.float64)
    std = torch.tensor([s if s > 0 else 1.0 for s in stds], dtype=torch.float64)

    def standardize(x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float()
        if not x.is_floating_point():
            return x
        axis = input_modality(x, model, x.dim() > 2).feature_axis if model is not None and x.dim() > 1 else -1
        if mean.numel() > 1 and x.shape[axis] != mean.numel():
            return x
        shape = [1] * x.dim()
        if x.dim():
            shape[axis] = mean.numel()
        centre, scale = mean.reshape(shape).to(x.device, x.dtype), std.reshape(shape).to(x.device, x.dtype)
        return (x - centre) / scale

    return standardize


def _clip(session: Session) -> None:
    torch.nn.utils.clip_grad_norm_(session.model.parameters(), max_norm=1.0)


@remedy("RD401")
def gradients_clipped(session: Session, finding: Finding) -> list[Trial] | str:
    return [Trial("clip_grad_norm_(model.parameters(), 1.0) before optimizer.step()", [before_step(_clip)])]


@remedy("RD407")
def clipping_moved(session: Session, finding: Finding) -> list[Trial] | str:
    return [Trial("gradients clipped (norm 1.0) before optimizer.step()", [before_step(_clip)])]


@remedy("RD404")
def gradients_zeroed(session: Session, finding: Finding) -> list[Trial] | str:
    if session.train_step_fn is None:
        return "rnndoctor's own step already zeroes the gradients"

    # Before every forward rather than after every step: an LBFGS closure runs several passes per step.
    def zero(session: Session) -> None:
        session.optimizer.zero_grad(set_to_none=True)

    return [Trial("optimizer.zero_grad() before every forward and backward", [before_forward(zero)])]


@remedy("RD406")
def train_mode(session: Session, finding: Finding) -> list[Trial] | str:
    def train(session: Session) -> None:
        session.model.train()

    return [Trial("model.train() before the training forward", [before_forward(train)])]


@remedy("RD212")
def state_detached(session: Session, finding: Finding) -> list[Trial] | str:
    return [Trial("hidden state detached between batches", [_state_detached])]


_AXIS_FLAGGED = (torch.nn.RNNBase, torch.nn.MultiheadAttention)


def _flag_flipped(module: torch.nn.Module) -> bool:
    return isinstance(module, _AXIS_FLAGGED)


@remedy("RD202", "RD207")
def axes_fixed(session: Session, finding: Finding) -> list[Trial] | str:
    """Recurrent layers and attention read time and batch from the axes their ``batch_first`` names: a model
    fed the other layout mixes samples (attention) or steps them as time (RNN)."""
    trials = []
    layers = [m for m in session.model.modules() if isinstance(m, _AXIS_FLAGGED)]
    if layers:
        flag = not bool(getattr(layers[0], "batch_first", False))
        kinds = "recurrent and attention layers" if len({type(m) for m in layers}) > 1 else "recurrent layers"
        if isinstance(layers[0], torch.nn.MultiheadAttention) and len({type(m) for m in layers}) == 1:
            kinds = "attention layers"
        trials.append(Trial(f"batch_first={flag} on the {kinds}", [module_flags(_flag_flipped, "batch_first", flag)]))
    elif finding.code == "RD207":
        return "no layer reads its batch axis from a batch_first flag: the mixing is in the model's own code"
    trials.append(Trial("inputs transposed (time and batch axes swapped)", [model_input_edited(_swap_leading_axes)]))
    for trial in trials:
        trial.partial = finding.code == "RD207"  # a reshape in the model's own code mixes samples too
    return trials


def _swap_leading_axes(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(0, 1) if x.dim() >= 2 else x


@remedy("RD309")
def targets_shifted(session: Session, finding: Finding) -> list[Trial] | str:
    layout = session.raw_layout()
    if layout is None or layout.time_axis is None or layout.kind == SINGLE:
        return "the time axis of the batches is unknown"
    time_axis = layout.time_axis
    if "other_order_share" in finding.evidence:

        def transposed(raw: Any) -> Any:
            batch = session.unpack(raw)
            targets = batch.targets
            if not isinstance(targets, torch.Tensor) or targets.dim() < 2:
                return raw
            return replace_part(batch, 1, targets.transpose(0, 1).contiguous())

        return [Trial("targets transposed to the inputs' order", batch_edit=transposed, closes_leak=False)]

    def shifted(raw: Any) -> Any:
        batch = session.unpack(raw)
        inputs, targets = batch.inputs, batch.targets
        if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
            return raw
        steps = inputs.shape[time_axis]
        if targets.dim() <= time_axis or targets.shape[time_axis] != steps:
            return raw
        shorter = replace_part(batch, 0, inputs.narrow(time_axis, 0, steps - 1))
        return replace_part(session.unpack(shorter), 1, inputs.narrow(time_axis, 1, steps - 1).to(targets.dtype))

    return [
        Trial("targets = inputs shifted one step ahead (x[:, :-1] → x[:, 1:])", batch_edit=shifted, closes_leak=True)
    ]


@remedy("RD206")
def padding_moved_to_front(session: Session, finding: Finding) -> list[Trial] | str:
    layout = session.raw_layout()
    if layout is None or layout.time_axis is None or layout.kind == SINGLE:
        return "the time axis of the batches is unknown"

    def left_padded(raw: Any) -> Any:
        try:
            batch = session.unpack(raw)
        except BatchFormatError:
            return raw
        inputs = batch.inputs
        if not isinstance(inputs, torch.Tensor):
            return raw
        sized = layout.resized(inputs)
        pad = padding_id(session.model) if not inputs.is_floating_point() else None
        found = sequence_lengths(inputs.cpu(), sized, batch.lengths, pad)
        if found is None or sized.steps is None:
            return raw
        x = sized.batch_first(inputs).clone()
        for row, length in enumerate(found[0]):
            x[row] = torch.roll(x[row], shifts=sized.steps - int(length), dims=0)
        return replace_part(batch, 0, sized.batch_first(x))

    # Reading the last padded step is one way padding leaks; pooling or attention over it is another.
    return [
        Trial("padding moved in front of each sequence, so its last step is real", batch_edit=left_padded, partial=True)
    ]


@remedy("RD208")
def recurrent_weights_reinitialized(session: Session, finding: Finding) -> list[Trial] | str:
    layers = [m for _, m in recurrent_modules(session.model) if isinstance(m, torch.nn.RNNBase)]
    if not layers:
        return "no fused recurrent layer to re-initialize"

    @contextlib.contextmanager
    def patch(session: Session) -> Iterator[None]:
        with torch.no_grad():
            for layer in layers:
                for name, weight in layer.named_parameters():
                    if name.startswith("weight_hh"):
                        for start in range(0, weight.shape[0], layer.hidden_size):
                            torch.nn.init.orthogonal_(weight[start : start + layer.hidden_size])
        yield  # the weights are put back with the rest of the model's state after the trial

    return [Trial("recurrent weights re-initialized orthogonal (PyTorch's defaults replaced)", [patch])]


def _held_by(optimizer: torch.optim.Optimizer) -> set[int]:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def trained_too(parameters: list[torch.nn.Parameter]) -> Patch:
    """Train ``parameters`` as well: gradients switched on, a parameter group added to the optimizer for
    those it does not hold; values, flags and groups are put back afterwards (unregistered parameters are
    not covered by the model's own snapshot)."""

    @contextlib.contextmanager
    def patch(session: Session) -> Iterator[None]:
        optimizer = session.optimizer
        held = _held_by(optimizer)
        missing = [p for p in parameters if id(p) not in held]
        saved = [(p, p.detach().clone(), p.requires_grad, p.grad) for p in parameters]
        for p in parameters:
            p.requires_grad_(True)
        if missing:
            optimizer.add_param_group({"params": missing})
        try:
            yield
        finally:
            if missing:
                optimizer.param_groups.pop()
                for p in missing:
                    optimizer.state.pop(p, None)
            with torch.no_grad():
                for p, value, flag, grad in saved:
                    p.copy_(value)
                    p.requires_grad_(flag)
                    p.grad = grad

    return patch


@remedy("RD210")
def parameters_trained(session: Session, finding: Finding) -> list[Trial] | str:
    named = dict(session.model.named_parameters())
    wanted = [named[name] for name in finding.evidence.get("parameters", ()) if name in named]
    held = _held_by(session.optimizer)
    fixable = [p for p in wanted if not p.requires_grad or id(p) not in held]
    if not fixable:
        return "the gradient is cut inside forward (a .detach(), an unused branch): no mechanical fix"
    return [
        Trial(
            "the frozen or left-out parameters trained (requires_grad=True, in the optimizer)", [trained_too(fixable)]
        )
    ]


@remedy("RD213")
def containers_registered(session: Session, finding: Finding) -> list[Trial] | str:
    holder: Any = session.model
    for part in str(finding.evidence.get("attribute", "")).split("."):
        holder = getattr(holder, part, None) if part else holder
    items = holder.values() if isinstance(holder, dict) else holder if isinstance(holder, (list, tuple)) else ()
    parameters: list[torch.nn.Parameter] = []
    for item in items:
        if isinstance(item, torch.nn.Module):
            parameters.extend(item.parameters())
        elif isinstance(item, torch.nn.Parameter):
            parameters.append(item)
    registered = {id(p) for p in session.model.parameters()}
    parameters = [p for p in parameters if id(p) not in registered]
    if not parameters:
        return "the container's parameters could not be found"
    return [
        Trial("the container's parameters registered and trained (nn.ModuleList/ModuleDict)", [trained_too(parameters)])
    ]


def _shifted_right(x: torch.Tensor, axis: int) -> torch.Tensor:
    """``x`` moved one step later along ``axis`` behind a zero start token, its last step dropped."""
    start = torch.zeros_like(x.narrow(axis, 0, 1))
    return torch.cat([start, x.narrow(axis, 0, x.shape[axis] - 1)], dim=axis)


@remedy("RD214")
def decoder_input_shifted(session: Session, finding: Finding) -> list[Trial] | str:
    name = str(finding.evidence.get("argument", ""))
    layout = session.layout()
    if not name or layout is None or layout.time_axis is None:
        return "the decoder input or its time axis is unknown"
    key: ArgumentKey = int(name) if name.isdigit() else name
    axis = layout.time_axis
    return [
        Trial(
            f"decoder input (argument {name}) shifted one step right behind a start token 0",
            [argument_edited(lambda x: _shifted_right(x, axis), key)],
            closes_leak=True,
        )
    ]


def _causal_mask(steps: int, device: torch.device) -> torch.Tensor:
    return torch.triu(torch.ones(steps, steps, dtype=torch.bool, device=device), diagonal=1)


@remedy("RD215")
def attention_masked(session: Session, finding: Finding) -> list[Trial] | str:
    attention = [m for m in session.model.modules() if isinstance(m, torch.nn.MultiheadAttention)]
    if not attention:
        return "no nn.MultiheadAttention to mask (the leak is in the model's own attention or a bidirectional layer)"

    def hook(module: torch.nn.MultiheadAttention, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        query = args[0] if args else kwargs.get("query")
        if not isinstance(query, torch.Tensor) or query.dim() != 3:
            return None
        steps = query.shape[1] if module.batch_first else query.shape[0]
        return args, {**kwargs, "attn_mask": _causal_mask(steps, query.device), "is_causal": False}

    patch = hooked(lambda session: [m.register_forward_pre_hook(hook, with_kwargs=True) for m in attention])
    return [Trial("a causal mask (upper triangle masked) passed to every self-attention", [patch], closes_leak=True)]


@remedy("RD211")
def backward_summary_read(session: Session, finding: Finding) -> list[Trial] | str:
    modules = dict(session.model.named_modules())
    layer = modules.get(str(finding.evidence.get("layer", "")))
    if not isinstance(layer, torch.nn.RNNBase) or not layer.bidirectional:
        return "the bidirectional layer could not be found"
    hidden = layer.proj_size or layer.hidden_size
    time_axis = 1 if layer.batch_first else 0

    # The backward direction's summary of the whole sequence is its output at the first step; putting it at
    # the last step makes `out[:, -1]` read what `torch.cat([h_n[-2], h_n[-1]], dim=-1)` would.
    def rewire(module: torch.nn.Module, args: Any, output: Any) -> Any:
        out = output[0] if isinstance(output, tuple) else output
        if not isinstance(out, torch.Tensor) or out.dim() != 3:
            return None
        fixed = out.clone()
        last = fixed.narrow(time_axis, out.shape[time_axis] - 1, 1)
        last[..., hidden:] = out.narrow(time_axis, 0, 1)[..., hidden:]
        return (fixed, *output[1:]) if isinstance(output, tuple) else fixed

    patch = hooked(lambda session: [layer.register_forward_hook(rewire)])
    return [Trial("the last step's backward half replaced by the backward direction's final state", [patch])]

"""Gradient health (RD210, RD401, RD402, RD405) and saturation at initialization (RD209).

Gradients come from real backward passes on sampled batches; the update ratio from one real optimizer
step (the engine puts weights, gradients and optimizer state back afterwards). Saturation recomputes the
gates of every recurrent layer from its weights, because fused LSTM/GRU kernels do not expose them.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from rnndoctor.core.errors import SkipCheck
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.gradients import GradientStats, SaturationStats, UpdateStats
from rnndoctor.runtime.budget import within_step_budget
from rnndoctor.runtime.heads import HeadRecorder, summed_over
from rnndoctor.runtime.recurrence import cell_kind, recurrent_modules
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.summary import first_non_finite, first_non_finite_backward


def backward_on(session: Session, raw: Any) -> tuple[float, HeadRecorder]:
    """Backpropagate the loss of one batch; a summed loss is divided by its element count first, so the
    gradient is judged on the scale of a mean (the update is the optimizer's business)."""
    recorder = HeadRecorder(session.model)
    try:
        forward = session.forward(raw, grad=True)
    finally:
        recorder.remove()
    loss = session.scalar_loss(forward.outputs, forward.targets) / summed_over(session, forward.targets)
    if not loss.requires_grad:
        raise SkipCheck("the loss does not depend on any trainable parameter")
    session.backward(loss)
    return float(loss.detach()), recorder


def _owner(parameter: str) -> str:
    """The module a parameter is registered on ('' for the model itself, which always runs)."""
    return parameter.rsplit(".", 1)[0] if "." in parameter else ""


def _embedding_weights(model: nn.Module) -> list[str]:
    return [f"{name}.weight" if name else "weight" for name, m in model.named_modules() if isinstance(m, nn.Embedding)]


def gradient_stats(session: Session) -> GradientStats:
    model = session.model
    model.train()
    named = list(model.named_parameters())
    batches = session.sample("train").batches
    model.zero_grad(set_to_none=True)
    ran: set[str] = set()
    if len(batches) > 1:
        ran |= backward_on(session, within_step_budget(session, batches[1]))[1].ran
    used = {name for name, p in named if p.grad is not None and bool(p.grad.ne(0).any())}
    model.zero_grad(set_to_none=True)
    loss, recorder = backward_on(session, session.first_batch())
    ran |= recorder.ran
    used |= {name for name, p in named if p.grad is not None and bool(p.grad.ne(0).any())}
    norms, rms = {}, {}
    for name, p in named:
        if p.grad is not None:
            g = p.grad.detach().double()
            norms[name] = float(g.norm())
            rms[name] = float(g.pow(2).mean().sqrt()) if g.numel() else 0.0
    total = math.sqrt(sum(v * v for v in norms.values())) if all(map(math.isfinite, norms.values())) else math.inf
    in_optimizer = {id(p) for group in session.optimizer.param_groups for p in group["params"]}
    stats = GradientStats(
        norms=norms,
        rms=rms,
        total_norm=total,
        loss=loss,
        no_grad=[name for name, p in named if p.requires_grad and name not in used and _owner(name) in ran],
        unused=[name for name, p in named if p.requires_grad and name not in used and _owner(name) not in ran],
        frozen_embeddings=_embedding_weights(model),
        frozen_in_optimizer=[name for name, p in named if not p.requires_grad and id(p) in in_optimizer],
        not_in_optimizer=[name for name, p in named if p.requires_grad and id(p) not in in_optimizer],
        parameter_counts={name: p.numel() for name, p in named},
    )
    recurrent = recurrent_modules(model)
    if recurrent:
        name, module = recurrent[0]
        prefix = f"{name}." if name else ""
        stats.earliest_recurrent = f"{prefix}weight_hh" + ("_l0" if isinstance(module, nn.RNNBase) else "")
    head = recorder.name
    head_weight = f"{head}.weight" if head else "weight"
    if head_weight in norms and not (recurrent and head == recurrent[0][0]):
        stats.last_layer = head_weight
    if not math.isfinite(total) or not math.isfinite(loss):
        stats.non_finite_from, stats.non_finite_in = non_finite_origin(session, batches[0])
    return stats


def non_finite_origin(session: Session, raw: Any) -> tuple[str | None, str | None]:
    """The module where NaN or Inf first appear on ``raw``: in the forward pass, else in the backward pass."""
    module = first_non_finite(session.model, lambda: session.forward(raw, grad=False))
    if module is not None:
        return module, "forward"
    session.model.zero_grad(set_to_none=True)
    module = first_non_finite_backward(session.model, lambda: backward_on(session, raw))
    return (module, "backward") if module is not None else (None, None)


ADAPTIVE = ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "SparseAdam")
"""Optimizers whose first step from an empty state is about lr * sign(g) per element: its size reflects the
learning rate and the parameter count, not the gradients, so the update ratio (RD405) says nothing."""


def update_stats(session: Session) -> UpdateStats | None:
    """One optimizer step with the gradients in place; None when the optimizer needs a closure, or when
    an adaptive optimizer would take its first step (see ``ADAPTIVE``)."""
    if type(session.optimizer).__name__ in ADAPTIVE and not session.optimizer.state:
        return None
    weights = {
        n: p.detach().clone() for n, p in session.model.named_parameters() if p.dim() >= 2 and p.grad is not None
    }
    try:
        session.optimizer.step()
    except TypeError:
        return None
    ratios = {}
    for name, p in session.model.named_parameters():
        if name in weights:
            before = weights[name].double()
            norm = float(before.norm())
            if norm > 0:
                ratios[name] = float((p.detach().double() - before).norm()) / norm
    lr = session.optimizer.param_groups[0].get("lr")
    return UpdateStats(ratios, type(session.optimizer).__name__, float(lr) if isinstance(lr, (int, float)) else None)


@register
class GradientsCheck(Check):
    name = "gradients"
    cost = 4
    quick = True
    description = "gradient norms, parameters without gradient, size of one optimizer step"

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        stats = gradient_stats(session)
        ctx.publish(stats)
        metrics: dict[str, Any] = {
            "total_norm": stats.total_norm,
            "loss": stats.loss,
            "gradient_norms": {
                k: round(v, 6) if math.isfinite(v) else str(v) for k, v in list(stats.norms.items())[:40]
            },
        }
        if math.isfinite(stats.total_norm):
            update = update_stats(session)
            if update is not None:
                ctx.publish(update)
                values = sorted(update.ratios.values())
                metrics["median_update_ratio"] = values[len(values) // 2] if values else None
        return Outcome(f"gradient norm {stats.total_norm:.3g} over {len(stats.norms)} parameter tensors", metrics)


# ---------------------------------------------------------------------------------------------
# saturation: RD209
# ---------------------------------------------------------------------------------------------


class SaturationCounter:
    """Counts units whose output is within ``1 - level`` of a bound: sigmoid beyond ``1 - level``/``level``,
    tanh beyond ``±level``."""

    def __init__(self, level: float) -> None:
        self.level = level
        self.sigmoid_bound = math.log(level / (1 - level))
        """|z| beyond which sigmoid(z) is outside (1 - level, level)."""
        self.tanh_bound = math.atanh(level)
        """|z| beyond which |tanh(z)| exceeds level."""
        self.saturated: dict[str, int] = {}
        self.total: dict[str, int] = {}

    def _add(self, key: str, saturated: torch.Tensor, count: int) -> None:
        self.saturated[key] = self.saturated.get(key, 0) + int(saturated.sum())
        self.total[key] = self.total.get(key, 0) + count

    def add_sigmoid(self, key: str, preactivation: torch.Tensor) -> None:
        self._add(key, preactivation.abs() > self.sigmoid_bound, preactivation.numel())

    def add_tanh(self, key: str, preactivation: torch.Tensor) -> None:
        self._add(key, preactivation.abs() > self.tanh_bound, preactivation.numel())

    def add_closed_forget_gate(self, key: str, preactivation: torch.Tensor) -> None:
        """A forget gate saturated open (sigmoid near 1) keeps the cell state: that is what a forget-gate
        bias of 1 or chrono initialization aim for. Only a gate saturated shut forgets everything."""
        self._add(key, preactivation < -self.sigmoid_bound, preactivation.numel())

    def add_tanh_outputs(self, key: str, values: torch.Tensor) -> None:
        self._add(key, values.abs() > self.level, values.numel())

    def add_sigmoid_outputs(self, key: str, values: torch.Tensor) -> None:
        self._add(key, (values < 1 - self.level) | (values > self.level), values.numel())

    def shares(self) -> dict[str, float]:
        return {k: self.saturated[k] / self.total[k] for k in self.total if self.total[k]}


def unroll_gates(name: str, module: nn.RNNBase, x: torch.Tensor, counter: SaturationCounter) -> None:
    """Recompute every gate pre-activation of ``module`` on batch-first input ``x`` (N, T, F)."""
    kind = str(module.mode)
    layer_input = x.double()
    directions = 2 if module.bidirectional else 1
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            w_ih = getattr(module, f"weight_ih{suffix}").detach().double()
            w_hh = getattr(module, f"weight_hh{suffix}").detach().double()
            b_ih = getattr(module, f"bias_ih{suffix}").detach().double() if module.bias else 0.0
            b_hh = getattr(module, f"bias_hh{suffix}").detach().double() if module.bias else 0.0
            w_hr = getattr(module, f"weight_hr{suffix}", None)
            seq = layer_input if direction == 0 else layer_input.flip(1)
            n = seq.shape[0]
            h = torch.zeros(n, w_hh.shape[1], dtype=torch.float64)
            c = torch.zeros(n, module.hidden_size, dtype=torch.float64)
            states = []
            key = f"{name or 'rnn'} layer {layer}{' reverse' if direction else ''}"
            for t in range(seq.shape[1]):
                gi = seq[:, t] @ w_ih.T + b_ih
                gh = h @ w_hh.T + b_hh
                if kind == "LSTM":
                    i, f, g, o = (gi + gh).chunk(4, dim=1)
                    for gate, z in (("input gate", i), ("output gate", o)):
                        counter.add_sigmoid(f"{key} {gate}", z)
                    counter.add_closed_forget_gate(f"{key} forget gate", f)
                    counter.add_tanh(f"{key} cell input", g)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                    if w_hr is not None:
                        h = h @ w_hr.detach().double().T
                elif kind == "GRU":
                    ri, zi, ni = gi.chunk(3, dim=1)
                    rh, zh, nh = gh.chunk(3, dim=1)
                    counter.add_sigmoid(f"{key} reset gate", ri + rh)
                    counter.add_sigmoid(f"{key} update gate", zi + zh)
                    r, z = torch.sigmoid(ri + rh), torch.sigmoid(zi + zh)
                    candidate = ni + r * nh
                    counter.add_tanh(f"{key} candidate", candidate)
                    h = (1 - z) * torch.tanh(candidate) + z * h
                else:
                    pre = gi + gh
                    if kind == "RNN_TANH":
                        counter.add_tanh(f"{key} tanh", pre)
                        h = torch.tanh(pre)
                    else:
                        h = torch.relu(pre)
                states.append(h)
            out = torch.stack(states, dim=1)
            outputs.append(out if direction == 0 else out.flip(1))
        layer_input = torch.cat(outputs, dim=-1)


@register
class SaturationCheck(Check):
    name = "saturation"
    cost = 2
    quick = True
    description = "saturated tanh/sigmoid units and LSTM/GRU gates at initialization"
    options = (
        Option(
            "saturated_output",
            0.99,
            "RD209: a unit is saturated beyond sigmoid 1-x/x or tanh ±x",
            meaning=(
                "A unit counts as saturated when its sigmoid output is below 1 - x or above x, or its tanh output "
                "beyond ±x: its derivative is then under 1 - x² (tanh) or x(1 - x) (sigmoid)."
            ),
            guards=("RD209",),
        ),
        Option(
            "samples",
            8,
            "RD209: samples of the first batch whose gates are recomputed",
            meaning="Samples of the first training batch whose gate pre-activations are recomputed and counted.",
            guards=("RD209",),
        ),
        Option(
            "steps",
            100,
            "RD209: time steps of each sample that are unrolled",
            meaning="Time steps of each of those samples that are unrolled (enough to reach a steady state).",
            guards=("RD209",),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        model = session.model
        counter = SaturationCounter(float(ctx.options["saturated_output"]))
        samples, steps = int(ctx.options["samples"]), int(ctx.options["steps"])
        captured: list[tuple[str, nn.RNNBase, torch.Tensor]] = []
        handles = []
        for name, module in model.named_modules():
            if isinstance(module, nn.RNNBase):
                handles.append(module.register_forward_pre_hook(_capture_input(name, module, captured, samples, steps)))
            elif isinstance(module, nn.RNNCellBase):
                handles.append(module.register_forward_pre_hook(_count_cell_gates(name, module, counter, samples)))
            elif isinstance(module, (nn.Tanh, nn.Sigmoid)):
                handles.append(module.register_forward_hook(_count_activation(name, module, counter)))
        try:
            model.train()
            session.forward(session.first_batch())
        finally:
            for handle in handles:
                handle.remove()
        for name, module, x in captured:
            unroll_gates(name, module, x, counter)
        shares = counter.shares()
        if not shares:
            raise SkipCheck("no recurrent layers or tanh/sigmoid activations to inspect")
        stats = SaturationStats(shares, min(samples, max((x.shape[0] for _, _, x in captured), default=0)))
        ctx.publish(stats)
        worst = max(shares.items(), key=lambda kv: kv[1])
        return Outcome(
            f"most saturated: {worst[0]} ({worst[1]:.0%})",
            {"saturated_share": {k: round(v, 4) for k, v in shares.items()}},
        )


def _capture_input(
    name: str, module: nn.RNNBase, captured: list[tuple[str, nn.RNNBase, torch.Tensor]], samples: int, steps: int
) -> Any:
    def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
        if not args or any(n == name for n, _, _ in captured):
            return
        x = args[0]
        if isinstance(x, nn.utils.rnn.PackedSequence):
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True)
        elif isinstance(x, torch.Tensor) and x.dim() == 3 and not module.batch_first:
            x = x.transpose(0, 1)
        if isinstance(x, torch.Tensor) and x.dim() == 3 and x.is_floating_point():
            captured.append((name, module, x.detach()[:samples, :steps].cpu()))

    return hook


def _count_cell_gates(name: str, module: nn.RNNCellBase, counter: SaturationCounter, samples: int) -> Any:
    """Gate pre-activations of a cell at every call (every time step), from its input and state."""
    kind = cell_kind(module)

    def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
        x = args[0] if args else None
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            return
        state = args[1] if len(args) > 1 else None
        h = state[0] if isinstance(state, (tuple, list)) else state
        x = x.detach().double()[:samples]
        gates = x @ module.weight_ih.detach().double().T
        if isinstance(h, torch.Tensor):
            gates = gates + h.detach().double()[:samples] @ module.weight_hh.detach().double().T
        if module.bias:
            gates = gates + module.bias_ih.detach().double() + module.bias_hh.detach().double()
        key = name or "cell"
        if kind == "LSTM":
            i, f, g, o = gates.chunk(4, dim=-1)
            for gate, z in (("input gate", i), ("output gate", o)):
                counter.add_sigmoid(f"{key} {gate}", z)
            counter.add_closed_forget_gate(f"{key} forget gate", f)
            counter.add_tanh(f"{key} cell input", g)
        elif kind == "GRU":
            r, z, _ = gates.chunk(3, dim=-1)
            counter.add_sigmoid(f"{key} reset gate", r)
            counter.add_sigmoid(f"{key} update gate", z)
        elif getattr(module, "nonlinearity", "tanh") == "tanh":
            counter.add_tanh(f"{key} tanh", gates)

    return hook


def _count_activation(name: str, module: nn.Module, counter: SaturationCounter) -> Any:
    def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if isinstance(output, torch.Tensor):
            values = output.detach().cpu().double()
            if isinstance(module, nn.Tanh):
                counter.add_tanh_outputs(f"{name} (tanh)", values)
            else:
                counter.add_sigmoid_outputs(f"{name} (sigmoid)", values)

    return hook

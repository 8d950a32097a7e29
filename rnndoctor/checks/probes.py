"""Dependency probes (RD202, RD206, RD207, RD211, RD403): use backprop to chart what each output
depends on, on a handful of real samples, in eval mode (so batch norm's intended coupling is absent).

- batch independence: the input gradient of one sample's output must land on that sample only;
- padding: appending padding steps (true lengths unchanged) must not move any output;
- bidirectional read-out: where the backward direction's output is read;
- memory: how far back from the end the input gradient survives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from rnndoctor.batches import Batch, replace_inputs
from rnndoctor.checks import judge_probes as judge
from rnndoctor.checks.data import batch_first, embedding_tables, layout_of, padding_id, valid_lengths
from rnndoctor.registry import Check, CheckContext, Outcome, SkipCheck, register
from rnndoctor.render.plots import plot
from rnndoctor.session import Session

PROBED_SAMPLES = 4
TIME_PROFILE_MIN_STEPS = 20


class DifferentiableInputs:
    """Runs the model with a leaf tensor standing for the inputs: the inputs themselves for float
    features, the first embedding's output for token ids."""

    def __init__(self, session: Session, batch: Batch, raw: Any) -> None:
        self.session = session
        self.raw = raw
        inputs = batch.inputs
        if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2:
            raise SkipCheck("probes need the inputs as one (batch, time, ...) tensor")
        self.tokens = not inputs.is_floating_point()
        self.layout = layout_of(inputs, batch.size)
        self.leaf: torch.Tensor | None = None
        if self.tokens:
            tables = embedding_tables(session.model)
            if not tables:
                raise SkipCheck("integer inputs without an nn.Embedding: no differentiable input to probe")
            self.embedding = tables[0][1]

    def forward(self) -> torch.Tensor:
        session = self.session
        if self.tokens:

            def make_leaf(module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor | None:
                if self.leaf is None:
                    self.leaf = output.detach().requires_grad_()
                    return self.leaf
                return None

            handle = self.embedding.register_forward_hook(make_leaf)
            try:
                result = session.forward(self.raw, grad=True)
            finally:
                handle.remove()
        else:
            inputs = self.raw[0] if not isinstance(self.raw, Mapping) else self.raw["inputs"]
            self.leaf = inputs.detach().to(session.device).clone().requires_grad_()
            result = session.forward(replace_inputs(self.raw, self.leaf), grad=True)
        outputs = result.outputs
        if self.leaf is None or not isinstance(outputs, torch.Tensor) or not outputs.requires_grad:
            raise SkipCheck("the outputs do not depend on a differentiable input")
        return outputs

    def gradient(self, scalar: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor | None]:
        assert self.leaf is not None
        self.session.backward_passes += 1
        grads = torch.autograd.grad(scalar, [self.leaf, *others], retain_graph=True, allow_unused=True)
        return list(grads)

    def mass(self, grad: torch.Tensor | None) -> torch.Tensor:
        """Gradient norm per (sample, time step), batch-first."""
        assert self.leaf is not None
        if grad is None:
            return torch.zeros(self.leaf.shape[self.layout.batch_axis], self.leaf.shape[1 - self.layout.batch_axis])
        g = batch_first(grad.detach().double().cpu(), self.layout)
        mass: torch.Tensor = g.reshape(g.shape[0], g.shape[1], -1).norm(dim=-1)
        return mass


def probe_indices(n: int) -> list[int]:
    return sorted({0, n // 3, (2 * n) // 3, n - 1})[:PROBED_SAMPLES]


def output_time_axis(outputs: torch.Tensor, steps: int, batch_size: int) -> int | None:
    if outputs.dim() < 3:
        return None
    candidates = [axis for axis in range(1, outputs.dim()) if outputs.shape[axis] == steps]
    return candidates[0] if len(candidates) >= 1 else None


def measure_dependencies(
    probe: DifferentiableInputs, outputs: torch.Tensor, lengths: list[int]
) -> tuple[judge.ProbeStats, judge.TimeProfile | None]:
    n = outputs.shape[0]
    generator = torch.Generator().manual_seed(0)
    stats = judge.ProbeStats(batch_size=n)
    steps = 0
    time_axis = output_time_axis(outputs, max(lengths), n)
    own_profiles: list[torch.Tensor] = []
    for i in probe_indices(n):
        weights = torch.randn(outputs[i].shape, generator=generator).to(outputs.device, outputs.dtype)
        (grad,) = probe.gradient((outputs[i] * weights).sum())
        mass = probe.mass(grad)
        steps = mass.shape[1]
        own = float(mass[i].sum())
        total = float(mass.sum())
        column = float(mass[:, i].sum()) if i < mass.shape[1] else 0.0
        stats.probes.append(judge.DependencyProbe(i, own, total - own, column, int((mass.sum(dim=1) > 0).sum())))
        length = min(lengths[i], steps)
        if time_axis is None:
            own_profiles.append(mass[i, :length].flip(0))
        else:
            last = outputs[i].select(time_axis - 1, length - 1)
            weights = torch.randn(last.shape, generator=generator).to(outputs.device, outputs.dtype)
            (grad,) = probe.gradient((last * weights).sum())
            own_profiles.append(probe.mass(grad)[i, :length].flip(0))
    stats.steps = steps
    profile = None
    shortest = min(len(p) for p in own_profiles) if own_profiles else 0
    if shortest >= TIME_PROFILE_MIN_STEPS:
        stacked = torch.stack([p[:shortest] for p in own_profiles])
        profile = judge.TimeProfile([float(v) for v in stacked.mean(dim=0)], shortest)
    return stats, profile


def measure_bidirectional(
    probe: DifferentiableInputs,
    outputs: torch.Tensor,
    captured: dict[str, tuple[nn.RNNBase, torch.Tensor]],
    lengths: list[int],
) -> list[judge.BidirectionalReadout]:
    if not captured:
        return []
    names = list(captured)
    weights = torch.randn(outputs.shape, generator=torch.Generator().manual_seed(1)).to(outputs.device, outputs.dtype)
    grads = probe.gradient((outputs * weights).sum(), *(captured[n][1] for n in names))[1:]
    readouts = []
    for name, grad in zip(names, grads, strict=True):
        module = captured[name][0]
        if grad is None:
            continue
        g = grad.detach().double().cpu()
        g = g if module.batch_first else g.transpose(0, 1)
        hidden = module.proj_size or module.hidden_size
        backward_half = g[..., hidden:].norm(dim=-1)
        total = float(backward_half.sum())
        if total <= 0:
            continue
        at_last = sum(float(backward_half[i, min(lengths[i], backward_half.shape[1]) - 1]) for i in range(g.shape[0]))
        readouts.append(judge.BidirectionalReadout(name or "rnn", at_last / total, total))
    return readouts


def measure_padding(
    session: Session, batch: Batch, raw: Any, base: torch.Tensor, lengths: list[int], source: str, pad_value: float
) -> judge.PaddingProbe | None:
    inputs = batch.inputs
    layout = layout_of(inputs, batch.size)
    time_axis = 1 if layout.batch_axis == 0 else 0
    steps = inputs.shape[time_axis]
    added = max(4, steps // 4)
    pad_shape = list(inputs.shape)
    pad_shape[time_axis] = added
    extended = torch.cat([inputs, torch.full(pad_shape, pad_value, dtype=inputs.dtype)], dim=time_axis)
    result = session.forward(replace_inputs(raw, extended))
    new = result.outputs
    if not isinstance(new, torch.Tensor):
        return None
    old = base.detach()
    new = new.detach()
    if new.shape != old.shape:
        axis = next((a for a in range(1, new.dim()) if new.shape[a] == old.shape[a] + added), None)
        if axis is None:
            return None
        new = new.narrow(axis, 0, old.shape[axis])
        mask_shape = [1] * old.dim()
        mask_shape[0], mask_shape[axis] = old.shape[0], old.shape[axis]
        valid = (torch.arange(old.shape[axis])[None, :] < torch.tensor(lengths)[:, None]).reshape(mask_shape)
        valid = valid.to(old.device)
        old, new = old * valid, new * valid
    diff = (new - old).double().reshape(old.shape[0], -1).norm(dim=1)
    scale = old.double().reshape(old.shape[0], -1).norm(dim=1).clamp_min(1e-12)
    return judge.PaddingProbe(float((diff / scale).max()), old.shape[0], added, source)


@register
class ProbesCheck(Check):
    name = "probes"
    codes = ("RD202", "RD206", "RD207", "RD211", "RD403")
    cost = 5
    description = "gradient dependency probes: batch mixing, padding leaks, bidirectional read-out, memory"

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        if session.forward_fn is not None or not session.unpackable("train"):
            raise SkipCheck("probes need (inputs, targets[, lengths]) batches and the model's own forward")
        raw = session.sample("train").batches[0]
        batch = session.batches("train", limit=1)[0]
        if batch.size is None or batch.size < 2:
            raise SkipCheck("probes need a batch of at least two samples")
        probe = DifferentiableInputs(session, batch, raw)
        model = session.model
        model.eval()
        captured: dict[str, tuple[nn.RNNBase, torch.Tensor]] = {}
        handles = [
            module.register_forward_hook(_capture_output(name, module, captured))
            for name, module in model.named_modules()
            if isinstance(module, nn.RNNBase) and module.bidirectional
        ]
        try:
            outputs = probe.forward()
        finally:
            for handle in handles:
                handle.remove()
        if outputs.shape[0] != batch.size:
            raise SkipCheck(f"the outputs' first axis ({outputs.shape[0]}) is not the batch ({batch.size})")
        pad = padding_id(model) if probe.tokens else None
        found = valid_lengths(batch, batch.inputs, probe.layout, pad)
        steps = batch.inputs.shape[1 - probe.layout.batch_axis]
        lengths = found[0] if found is not None else [steps] * batch.size
        dependency, profile = measure_dependencies(probe, outputs, lengths)
        ctx.findings.extend(judge.judge_mixing(dependency, float(options["mixing_tolerance"])))
        readouts = measure_bidirectional(probe, outputs, captured, lengths)
        ctx.findings.extend(judge.judge_bidirectional_readout(readouts, float(options["last_step_share"])))
        ctx.findings.extend(
            judge.judge_time_profile(profile, float(options["memory_orders"]), int(options["min_memory_steps"]))
        )
        padding = None
        known_padding = batch.lengths is not None or (probe.tokens and pad is not None)
        if known_padding:
            source = "explicit lengths" if batch.lengths is not None else f"padding id {pad}"
            pad_value = float(pad) if probe.tokens and pad is not None else 0.0
            padding = measure_padding(session, batch, raw, outputs, lengths, source, pad_value)
            ctx.findings.extend(judge.judge_padding_leak(padding, float(options["padding_tolerance"])))
        metrics: dict[str, Any] = {
            "probed_samples": [p.sample for p in dependency.probes],
            "max_cross_sample_share": max((p.leak for p in dependency.probes), default=0.0),
            "padding_relative_change": padding.max_relative_change if padding else None,
        }
        if profile is not None:
            metrics["effective_memory"] = profile.memory(float(options["memory_orders"]))
            metrics["plots"] = [
                plot(
                    "input gradient per step back from the end",
                    list(range(len(profile.profile))),
                    profile.profile,
                    x_label="steps back",
                    y_label="|dOut/dx_t|",
                    log_y=True,
                    marks={"memory": metrics["effective_memory"]},
                )
            ]
        return Outcome(f"probed {len(dependency.probes)} samples of {batch.size}", metrics)


def _capture_output(name: str, module: nn.RNNBase, captured: dict[str, tuple[nn.RNNBase, torch.Tensor]]) -> Any:
    def hook(mod: nn.Module, args: Any, output: Any) -> None:
        out = output[0] if isinstance(output, tuple) else output
        if isinstance(out, torch.Tensor) and out.requires_grad and name not in captured:
            captured[name] = (module, out)

    return hook

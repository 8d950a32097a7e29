"""Dependency probes (RD202, RD206, RD207, RD211, RD215, RD403): use backprop to chart what each output
depends on, on a handful of real samples, in eval mode (so batch norm's intended coupling is absent).

- batch independence: the input gradient of one sample's output must land on that sample only;
- causality: in a next-step task, an output's input gradient must not reach later steps;
- padding: appending padding steps (true lengths unchanged) must not move any output;
- bidirectional read-out: where the backward direction's output is read;
- memory: how far back from the end the input gradient survives.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnndoctor.core.errors import SkipCheck
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.measurements.model import (
    BidirectionalReadout,
    DependencyProbe,
    FutureProbe,
    FutureProbes,
    PaddingProbe,
    ProbeStats,
    TimeProfile,
)
from rnndoctor.render.plots import plot
from rnndoctor.runtime.layout import IMPLICIT_PAD, Layout, SampleView, padding_id, primary_tensor, sequence_lengths
from rnndoctor.runtime.recurrence import recurrent_modules
from rnndoctor.runtime.session import Forward, Session
from rnndoctor.runtime.task import LM_SHIFT_AGREEMENT


class DifferentiableInputs:
    """Runs the model with a leaf tensor standing for its input: the tensor the model receives, for float
    features (swapped in by a forward pre-hook, so this works behind a ``forward`` function too), or the
    first embedding's output, for token ids."""

    def __init__(self, session: Session, raw: Any, model_input: Any, layout: Layout) -> None:
        if not isinstance(model_input, torch.Tensor) or model_input.dim() < 2:
            raise SkipCheck("probes need the model's input as one (batch, time, ...) tensor")
        self.session = session
        self.raw = raw
        self.layout = layout
        self.tokens = not model_input.is_floating_point()
        self.leaf: torch.Tensor | None = None
        self.tables = [m for m in session.model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))]
        if self.tokens and not self.tables:
            raise SkipCheck("integer inputs without an nn.Embedding: no differentiable input to probe")

    def forward(self) -> Forward:
        session = self.session
        if self.tokens:

            def make_leaf(module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor | None:
                if self.leaf is None and isinstance(output, torch.Tensor) and output.is_floating_point():
                    self.leaf = output.detach().requires_grad_()
                    return self.leaf
                return None

            handles = [table.register_forward_hook(make_leaf) for table in self.tables]
            try:
                result = session.forward(self.raw, grad=True)
            finally:
                for handle in handles:
                    handle.remove()
        else:

            def swap(x: torch.Tensor) -> torch.Tensor:
                self.leaf = x.detach().clone().requires_grad_()
                return self.leaf

            result = session.forward(self.raw, grad=True, edit_input=swap)
        outputs = primary_tensor(result.outputs)
        if self.leaf is None or outputs is None or not outputs.requires_grad:
            raise SkipCheck("the outputs do not depend on a differentiable input")
        return Forward(outputs, result.targets, result.batch, result.model_input)

    def gradient(self, scalar: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor | None]:
        assert self.leaf is not None
        self.session.backward_passes += 1
        grads = torch.autograd.grad(scalar, [self.leaf, *others], retain_graph=True, allow_unused=True)
        return list(grads)

    def mass(self, grad: torch.Tensor | None) -> torch.Tensor:
        """Gradient norm per (sample, time step), samples first."""
        assert self.leaf is not None
        leaf = self.layout.batch_first(self.leaf) if self.layout.steps is not None else self.leaf.unsqueeze(1)
        if grad is None:
            return torch.zeros(leaf.shape[0], leaf.shape[1], dtype=torch.float64)
        g = grad.detach().double().cpu()
        g = self.layout.batch_first(g) if self.layout.steps is not None else g.unsqueeze(1)
        mass: torch.Tensor = g.reshape(g.shape[0], g.shape[1], -1).norm(dim=-1)
        return mass


def probe_indices(n: int) -> list[int]:
    """The first, last and two middle samples: four probes reach both ends of the batch."""
    return sorted({0, n // 3, (2 * n) // 3, n - 1})


def measure_dependencies(
    probe: DifferentiableInputs, outputs: torch.Tensor, view: SampleView, lengths: list[int], min_profile_steps: int
) -> tuple[ProbeStats, TimeProfile | None]:
    """``outputs`` samples-first (the view's canonical form)."""
    n = outputs.shape[0]
    generator = torch.Generator().manual_seed(0)
    stats = ProbeStats(batch_size=n, layout=probe.layout.label)
    steps = 0
    own_profiles: list[torch.Tensor] = []
    same_steps = view.steps is not None and view.steps == probe.layout.steps
    for i in probe_indices(n):
        weights = torch.randn(outputs[i].shape, generator=generator).to(outputs.device, outputs.dtype)
        (grad,) = probe.gradient((outputs[i] * weights).sum())
        mass = probe.mass(grad)
        steps = mass.shape[1]
        own = float(mass[i].sum())
        total = float(mass.sum())
        column = float(mass[:, i].sum()) if i < mass.shape[1] else 0.0
        stats.probes.append(DependencyProbe(i, own, total - own, column, int((mass.sum(dim=1) > 0).sum())))
        length = min(lengths[i], steps)
        if view.time_axis is None:
            own_profiles.append(mass[i, :length].flip(0))
        else:
            last_step = length - 1 if same_steps else int(outputs.shape[view.time_axis]) - 1
            last = outputs[i].select(view.time_axis - 1, last_step)
            weights = torch.randn(last.shape, generator=generator).to(outputs.device, outputs.dtype)
            (grad,) = probe.gradient((last * weights).sum())
            own_profiles.append(probe.mass(grad)[i, :length].flip(0))
    stats.steps = steps
    profile = None
    shortest = min(len(p) for p in own_profiles) if own_profiles else 0
    if shortest >= min_profile_steps:
        stacked = torch.stack([p[:shortest] for p in own_profiles])
        profile = TimeProfile([float(v) for v in stacked.mean(dim=0)], shortest)
    return stats, profile


def next_step_targets(inputs: torch.Tensor, targets: torch.Tensor, agreement: float = LM_SHIFT_AGREEMENT) -> bool:
    """Samples-first inputs and targets where the target at each step is the next step's input (its first
    feature, for real-valued sequences)."""
    if inputs.dim() < 2 or targets.dim() < 2 or inputs.shape[:2] != targets.shape[:2] or inputs.shape[1] < 3:
        return False
    if inputs.is_floating_point():
        following = inputs[:, 1:].reshape(inputs.shape[0], inputs.shape[1] - 1, -1)[..., 0]
        wanted = targets[:, :-1].reshape(targets.shape[0], targets.shape[1] - 1, -1)[..., 0].to(following.dtype)
        same = torch.isclose(following, wanted, rtol=1e-5, atol=1e-6)
    else:
        if targets.dim() != 2 or targets.is_floating_point():
            return False
        same = inputs[:, 1:] == targets[:, :-1]
    return float(same.double().mean()) >= agreement


def measure_future(
    probe: DifferentiableInputs, outputs: torch.Tensor, view: SampleView, result: Forward, targets_view: Any
) -> list[FutureProbe]:
    """In a next-step task, the input gradient of outputs at a middle and a late step, split into the steps
    up to the output's own and the later ones (``outputs`` samples-first)."""
    steps = view.steps
    model_input, targets = result.model_input, primary_tensor(result.targets)
    if view.time_axis is None or steps is None or steps != probe.layout.steps or targets_view is None:
        return []
    if not isinstance(model_input, torch.Tensor) or targets is None or targets_view.steps != steps:
        return []
    if not next_step_targets(probe.layout.batch_first(model_input.detach()), targets_view.canonical(targets.detach())):
        return []
    generator = torch.Generator().manual_seed(1)
    probes = []
    for i in probe_indices(outputs.shape[0])[:2]:
        for step in sorted({steps // 2, (3 * steps) // 4}):
            if step >= steps - 1:
                continue
            out = outputs[i].select(view.time_axis - 1, step)
            weights = torch.randn(out.shape, generator=generator).to(out.device, out.dtype)
            (grad,) = probe.gradient((out * weights).sum())
            mass = probe.mass(grad)[i]
            probes.append(FutureProbe(i, step, float(mass[: step + 1].sum()), float(mass[step + 1 :].sum())))
    return probes


def measure_bidirectional(
    probe: DifferentiableInputs,
    outputs: torch.Tensor,
    captured: dict[str, tuple[nn.RNNBase, torch.Tensor]],
    lengths: list[int],
) -> list[BidirectionalReadout]:
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
        if total <= 0 or backward_half.shape[0] != len(lengths):
            continue
        at_last = sum(float(backward_half[i, min(lengths[i], backward_half.shape[1]) - 1]) for i in range(g.shape[0]))
        readouts.append(BidirectionalReadout(name or "rnn", at_last / total, total))
    return readouts


def measure_padding(
    session: Session,
    raw: Any,
    layout: Layout,
    base: Forward,
    lengths: list[int],
    source: str,
    pad_value: float,
) -> PaddingProbe | None:
    """Append padding steps to the model's input (true lengths unchanged) and compare valid outputs."""
    steps = layout.steps
    if steps is None:
        return None
    added = max(4, steps // 4)
    result = session.forward(raw, edit_input=lambda x: layout.extend_time(x, added, pad_value))
    _, old_view = session.views(base)
    _, new_view = session.views(result)
    old_outputs, new_outputs = primary_tensor(base.outputs), primary_tensor(result.outputs)
    if old_view is None or new_view is None or old_outputs is None or new_outputs is None:
        return None
    old = old_view.canonical(old_outputs.detach())
    new = new_view.canonical(new_outputs.detach())
    if new.shape != old.shape:
        axis = old_view.time_axis
        if axis is None or new.shape[axis] != old.shape[axis] + added or old.shape[axis] != steps:
            return None
        new = new.narrow(axis, 0, old.shape[axis])
        mask_shape = [1] * old.dim()
        mask_shape[0], mask_shape[axis] = old.shape[0], old.shape[axis]
        valid = (torch.arange(old.shape[axis])[None, :] < torch.tensor(lengths)[:, None]).reshape(mask_shape)
        valid = valid.to(old.device)
        old, new = old * valid, new * valid
    diff = (new - old).double().reshape(old.shape[0], -1).norm(dim=1)
    scale = old.double().reshape(old.shape[0], -1).norm(dim=1).clamp_min(1e-12)
    return PaddingProbe(float((diff / scale).max()), old.shape[0], added, source)


def batch_lengths(session: Session, model_input: torch.Tensor, layout: Layout, raw: Any, tokens: bool) -> Any:
    """Sequence lengths of the probed batch: explicit lengths, the padding id, trailing padding."""
    explicit = None
    if session.forward_fn is None and session.unpackable("train"):
        explicit = session.unpack(raw).lengths
    return sequence_lengths(model_input, layout, explicit, padding_id(session.model) if tokens else None)


@register
class ProbesCheck(Check):
    name = "probes"
    cost = 5
    quick = True
    description = "gradient dependency probes: batch mixing, padding leaks, bidirectional read-out, memory"
    options = (
        Option(
            "mixing_tolerance",
            1e-06,
            "RD207: share of a sample's input gradient allowed on other samples",
            meaning="Share of one sample's input gradient allowed to land on other samples.",
            guards=("RD207", "RD202"),
        ),
        Option(
            "memory_orders",
            3.0,
            "RD403: orders of magnitude the gradient may fall within the memory window",
            meaning="Orders of magnitude the input gradient may fall inside the effective memory.",
            guards=("RD403",),
        ),
        Option(
            "min_profile_steps",
            20,
            "RD403: memory is judged only on sequences at least this long",
            meaning=(
                "The gradient's fall over time is measured only when every probed sequence has at least this many "
                "steps; on shorter ones there is no long-range dependency to lose."
            ),
            guards=("RD403",),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        raw = session.sample("train").batches[0]
        model = session.model
        model.eval()
        reference = session.reference()
        layout = session.layout()
        if layout is None:
            raise SkipCheck("the model's input is not one tensor whose batch axis can be told")
        layout = layout.resized(reference.model_input)
        if layout.samples < 2:
            raise SkipCheck(f"probes need a batch of at least two samples ({layout.describe()})")
        probe = DifferentiableInputs(session, raw, reference.model_input, layout)
        captured: dict[str, tuple[nn.RNNBase, torch.Tensor]] = {}
        handles = [
            module.register_forward_hook(_capture_output(name, module, captured))
            for name, module in model.named_modules()
            if isinstance(module, nn.RNNBase) and module.bidirectional
        ]
        try:
            result = probe.forward()
        finally:
            for handle in handles:
                handle.remove()
        _, view = session.views(result)
        if view is None:
            shape = list(result.outputs.shape)
            raise SkipCheck(f"cannot tell which part of the outputs {shape} belongs to which sample ({layout.label})")
        outputs = view.canonical(result.outputs)
        found = batch_lengths(session, reference.model_input, layout, raw, probe.tokens)
        steps = layout.steps or 1
        lengths = found[0] if found is not None else [steps] * layout.samples
        dependency, profile = measure_dependencies(probe, outputs, view, lengths, int(options["min_profile_steps"]))
        ctx.publish(dependency)
        targets_view, _ = session.views(result)
        future = measure_future(probe, outputs, view, result, targets_view)
        ctx.publish(FutureProbes(future, layout.steps or 0))
        for readout in measure_bidirectional(probe, result.outputs, captured, lengths):
            ctx.publish(readout)
        if recurrent_modules(model) and profile is not None:
            # Attention and convolutions reach every step directly: fading with distance is a recurrent failure.
            ctx.publish(profile)
        padding = None
        if found is not None and found[1] != "no padding found" and min(lengths) < steps:
            pad = padding_id(model)
            pad_value = float(pad if pad is not None else IMPLICIT_PAD) if probe.tokens else 0.0
            base = session.forward(raw)
            padding = measure_padding(session, raw, layout, base, lengths, found[1], pad_value)
            if padding is not None:
                ctx.publish(padding)
        metrics: dict[str, Any] = {
            "layout": layout.describe(),
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
        return Outcome(f"probed {len(dependency.probes)} samples of {layout.samples} ({layout.label})", metrics)


def _capture_output(name: str, module: nn.RNNBase, captured: dict[str, tuple[nn.RNNBase, torch.Tensor]]) -> Any:
    def hook(mod: nn.Module, args: Any, output: Any) -> None:
        out = output[0] if isinstance(output, tuple) else output
        if isinstance(out, torch.Tensor) and out.requires_grad and name not in captured:
            captured[name] = (module, out)

    return hook

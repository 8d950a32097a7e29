"""Pure judgements of gradient health (RD209, RD210, RD401, RD402, RD405) and of the user's training
step (RD404, RD406)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnndoctor.findings import Finding, Severity
from rnndoctor.registry import make_finding


@dataclass
class GradientStats:
    """Gradient norms after backward passes on real batches, per parameter in forward (module) order."""

    norms: dict[str, float]
    """Per-parameter gradient L2 norm (NaN/inf kept as they are)."""
    rms: dict[str, float] = field(default_factory=dict)
    """Per-parameter root-mean-square gradient."""
    total_norm: float = 0.0
    loss: float | None = None
    no_grad: list[str] = field(default_factory=list)
    """Parameters of modules that ran in forward, which require grad but got None or exactly zero."""
    unused: list[str] = field(default_factory=list)
    """Parameters that require grad, of modules that never ran in forward (an auxiliary head, say)."""
    frozen_embeddings: list[str] = field(default_factory=list)
    """The weights of the model's nn.Embedding tables (frozen on purpose when pretrained)."""
    frozen_in_optimizer: list[str] = field(default_factory=list)
    """Parameters with requires_grad=False that the optimizer was given (frozen by mistake?)."""
    not_in_optimizer: list[str] = field(default_factory=list)
    """Trainable parameters that the optimizer does not hold."""
    parameter_counts: dict[str, int] = field(default_factory=dict)
    earliest_recurrent: str | None = None
    last_layer: str | None = None


@dataclass
class UpdateStats:
    """Relative size of one optimizer step: ||delta w|| / ||w|| per weight matrix."""

    ratios: dict[str, float]
    optimizer: str
    lr: float | None


@dataclass
class SaturationStats:
    """Share of saturated units per layer and gate at initialization."""

    shares: dict[str, float]
    samples: int


@dataclass
class StepStats:
    """What the user's own training step did over repeated calls."""

    grad_growth: float | None
    """||grad after the 2nd call|| / ||grad after the 1st|| at the same weights and batch (2 = accumulating)."""
    cleared_after_step: bool
    zero_grad_calls: int
    steps: int
    eval_mode_steps: int
    eval_modules: list[str] = field(default_factory=list)
    clipping_after_step: bool = False
    """Gradients clipped only after the call's last optimizer step (by call order or by effect)."""
    clip_calls: int = 0


def judge_exploding(stats: GradientStats, exploding_norm: float) -> list[Finding]:
    """RD401: a non-finite gradient anywhere, or a total gradient norm above ``exploding_norm``."""
    bad = [name for name, value in stats.norms.items() if not math.isfinite(value)]
    if bad:
        first = bad[-1]
        return [
            make_finding(
                "RD401",
                f"{len(bad)} parameter(s) get NaN or infinite gradients after one backward pass; nearest the "
                f"output: '{first}'"
                + (
                    f" (the loss itself is {stats.loss})"
                    if stats.loss is not None and not math.isfinite(stats.loss)
                    else ""
                )
                + ". The first optimizer step writes NaN into the weights and training is lost.",
                "Find the operation that overflows (log of 0, division by a zero length, exp of a large "
                "value) and guard it; clip gradients as a safety net:\n\n```python\n"
                "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n```",
                {"non_finite_parameters": bad[:10], "count": len(bad), "first_from_output": first, "loss": stats.loss},
            )
        ]
    if stats.total_norm <= exploding_norm:
        return []
    largest = max(stats.norms.items(), key=lambda kv: kv[1])
    return [
        make_finding(
            "RD401",
            f"The total gradient norm after one backward pass is {stats.total_norm:.3g} (largest: "
            f"'{largest[0]}' with {largest[1]:.3g}). At this size a single step throws the weights far from "
            "where they were, and the loss jumps or becomes NaN.",
            "Clip the gradient norm in the training loop, and look for the cause (unscaled inputs, a "
            "recurrent weight scale above 1, a loss summed instead of averaged):\n\n```python\n"
            "loss.backward()\ntorch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\noptimizer.step()\n```",
            {
                "total_norm": stats.total_norm,
                "largest_parameter": largest[0],
                "largest_norm": largest[1],
                "threshold": exploding_norm,
            },
        )
    ]


def judge_vanishing_layers(stats: GradientStats, ratio_threshold: float) -> list[Finding]:
    """RD402: RMS gradient of the earliest recurrent layer's hidden-to-hidden weights below
    ``ratio_threshold`` times that of the last layer's weights (both act on bounded hidden states)."""
    first, last = stats.earliest_recurrent, stats.last_layer
    if first is None or last is None or first == last:
        return []
    g_first, g_last = stats.rms.get(first), stats.rms.get(last)
    if not g_first or not g_last or not math.isfinite(g_first) or not math.isfinite(g_last) or g_last == 0:
        return []
    ratio = g_first / g_last
    if ratio >= ratio_threshold:
        return []
    return [
        make_finding(
            "RD402",
            f"The earliest recurrent weights ('{first}') get gradients {ratio:.2g} times as large as the last "
            f"layer's ('{last}'): the signal fades on its way down the stack, so the lower layers barely "
            "learn.",
            "Use fewer stacked layers, add residual connections or layer normalization between them, and "
            "check for saturated activations:\n\n```python\nself.rnn = nn.LSTM(input_size, hidden, "
            "num_layers=2, batch_first=True)   # instead of 6+\n```",
            {"earliest": first, "earliest_rms": g_first, "last": last, "last_rms": g_last, "ratio": ratio},
        )
    ]


def judge_no_gradient(stats: GradientStats) -> list[Finding]:
    """RD210: trainable parameters with no gradient, frozen ones handed to the optimizer, and trainable
    ones missing from it."""
    findings = []
    total = sum(stats.parameter_counts.values()) or 1
    if stats.no_grad:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.no_grad)
        modules = sorted({n.rsplit(".", 1)[0] if "." in n else n for n in stats.no_grad})
        findings.append(
            make_finding(
                "RD210",
                f"{len(stats.no_grad)} trainable parameter tensor(s) in {', '.join(modules[:6])} "
                f"({count} values, {count / total:.0%} of the model) get no gradient from the loss. They are "
                "detached (.detach(), .data, torch.no_grad, a numpy round-trip) or never used in forward, "
                "so they never learn.",
                "Find where the graph is cut between these modules and the loss:\n\n```python\n"
                "features = self.encoder(x)            # not self.encoder(x).detach()\n"
                "for name, p in model.named_parameters():\n    print(name, p.grad is None)\n```",
                {
                    "parameters": stats.no_grad[:20],
                    "modules": modules,
                    "values": count,
                    "share_of_model": count / total,
                },
            )
        )
    if stats.unused:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.unused)
        modules = sorted({n.rsplit(".", 1)[0] if "." in n else n for n in stats.unused})
        findings.append(
            make_finding(
                "RD210",
                f"{len(stats.unused)} trainable parameter tensor(s) in {', '.join(modules[:6])} ({count} values, "
                f"{count / total:.0%} of the model) belong to modules that never run in forward, so they get no "
                "gradient from this loss. Fine for a head of a task switched off; a bug if the module was meant "
                "to be part of the model.",
                "Call the module in forward, or leave its parameters out of the optimizer while it is unused:"
                "\n\n```python\noptimizer = torch.optim.Adam(\n    (p for n, p in model.named_parameters() "
                f"if not n.startswith('{modules[0]}.')), lr=1e-3)\n```",
                {"parameters": stats.unused[:20], "modules": modules, "values": count, "share_of_model": count / total},
                severity=Severity.WARNING,
                confidence=0.5,
            )
        )
    deliberate = bool(stats.frozen_in_optimizer) and set(stats.frozen_in_optimizer) <= set(stats.frozen_embeddings)
    if stats.frozen_in_optimizer and not deliberate:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.frozen_in_optimizer)
        findings.append(
            make_finding(
                "RD210",
                f"{len(stats.frozen_in_optimizer)} parameter tensor(s) have requires_grad=False but were "
                f"given to the optimizer ({', '.join(stats.frozen_in_optimizer[:4])}...): frozen, probably by "
                "mistake, since the optimizer was meant to train them.",
                "Unfreeze them, or leave them out of the optimizer if freezing is intended:\n\n```python\n"
                "for p in model.encoder.parameters():\n    p.requires_grad_(True)\n```",
                {"parameters": stats.frozen_in_optimizer[:20], "values": count},
                severity=Severity.WARNING,
            )
        )
    if stats.not_in_optimizer:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.not_in_optimizer)
        findings.append(
            make_finding(
                "RD210",
                f"{len(stats.not_in_optimizer)} trainable parameter tensor(s) ({count} values) are not in the "
                f"optimizer, e.g. {', '.join(stats.not_in_optimizer[:4])}: they get gradients but are never "
                "updated. The optimizer was built before these modules were added or replaced.",
                "Build the optimizer after the model is complete:\n\n```python\nmodel.head = nn.Linear(h, c)\n"
                "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n```",
                {"parameters": stats.not_in_optimizer[:20], "values": count},
            )
        )
    return findings


def judge_update_ratio(stats: UpdateStats, low: float, high: float) -> list[Finding]:
    """RD405: the median ||delta w|| / ||w|| of one real optimizer step outside [``low``, ``high``]."""
    values = sorted(v for v in stats.ratios.values() if math.isfinite(v))
    if not values:
        return []
    median = values[len(values) // 2]
    if low <= median <= high:
        return []
    direction = "large" if median > high else "small"
    effect = (
        "each step rewrites a sizeable part of the weights: training is unstable or diverges"
        if median > high
        else "each step changes the weights by a negligible fraction: the loss will barely move"
    )
    lr = f" at lr={stats.lr:g}" if stats.lr is not None else ""
    current = stats.lr or 1e-3
    suggested = current * 1e-3 / median if median > 0 else current * 1e3
    return [
        make_finding(
            "RD405",
            f"One {stats.optimizer} step{lr} changes the weights by a median of {median:.2g} of their norm "
            f"(healthy is around 1e-3, between {low:g} and {high:g}): too {direction}; {effect}.",
            "Adjust the learning rate by the factor that brings the ratio near 1e-3, then confirm with the "
            f"learning-rate sweep:\n\n```python\noptimizer = torch.optim.{stats.optimizer}(model.parameters(), "
            f"lr={suggested:.1g})\n```",
            {
                "median_ratio": median,
                "min_ratio": values[0],
                "max_ratio": values[-1],
                "lr": stats.lr,
                "optimizer": stats.optimizer,
            },
        )
    ]


def judge_saturation(stats: SaturationStats, max_share: float) -> list[Finding]:
    """RD209: the share of saturated units in some layer/gate above ``max_share``."""
    saturated = {k: v for k, v in stats.shares.items() if v > max_share}
    if not saturated:
        return []
    worst, share = max(saturated.items(), key=lambda kv: kv[1])
    return [
        make_finding(
            "RD209",
            f"At initialization {share:.0%} of the units in {worst} are saturated (sigmoid below 0.01 or above "
            f"0.99, tanh beyond ±0.99); {len(saturated)} layer/gate(s) exceed {max_share:.0%}. Saturated units "
            "pass almost no gradient, so those parts of the network start out unable to learn.",
            "Scale the inputs to unit variance and keep the default initialization; for very large inputs "
            "add a normalization layer before the RNN:\n\n```python\nx = (x - mean) / std\n```",
            {"worst": worst, "share": share, "saturated": saturated, "samples": stats.samples},
        )
    ]


def judge_accumulation(stats: StepStats) -> list[Finding]:
    """RD404: the second call of the user's step leaves about twice the gradient of the first."""
    if stats.cleared_after_step or stats.grad_growth is None or stats.grad_growth < 1.5:
        return []
    return [
        make_finding(
            "RD404",
            f"Running the training step twice on the same batch at the same weights leaves gradients "
            f"{stats.grad_growth:.2f}x those of one call ({stats.zero_grad_calls} zero_grad call(s) seen in "
            f"{stats.steps} steps): gradients accumulate across steps. Every update adds all earlier "
            "gradients again, so steps grow until the loss diverges.",
            "Clear the gradients once per step:\n\n```python\noptimizer.zero_grad()\nloss = loss_fn(model(x), y)\n"
            "loss.backward()\noptimizer.step()\n```",
            {"grad_growth": stats.grad_growth, "zero_grad_calls": stats.zero_grad_calls, "steps": stats.steps},
        )
    ]


def judge_eval_mode_steps(stats: StepStats) -> list[Finding]:
    """RD406: optimizer steps taken while dropout or batch-norm modules are in eval mode."""
    if stats.eval_mode_steps == 0 or not stats.eval_modules:
        return []
    return [
        make_finding(
            "RD406",
            f"{stats.eval_mode_steps} of {stats.steps} optimizer steps ran with {', '.join(stats.eval_modules[:4])} "
            "in eval mode: dropout is off and batch norm uses frozen running statistics while training, so "
            "the model trains without regularization and its statistics never adapt. Usually model.eval() "
            "from a validation pass was never undone.",
            "Switch back to training mode at the start of every training step or epoch:\n\n```python\n"
            "model.train()\nfor x, y in train_loader:\n    ...\n```",
            {"eval_mode_steps": stats.eval_mode_steps, "steps": stats.steps, "modules": stats.eval_modules},
        )
    ]


def judge_rate_control(
    follows_rate: bool, calls_optimizer_step: bool, update: float, half_rate_update: float, optimizer: str
) -> list[Finding]:
    """RD408: the step moves the weights the same at the optimizer's rate and at half of it."""
    if follows_rate:
        return []
    if calls_optimizer_step:
        cause = (
            "It calls optimizer.step(), so something inside it sets the rate itself (a scheduler such as "
            "OneCycleLR stepped in the train_step, or a rate written into param_groups)."
        )
        fix = "Step schedulers outside the train_step (once per epoch or per step in your loop), not inside it."
    else:
        cause = (
            "It never calls optimizer.step(): it updates the weights by hand with a rate of its own "
            "(p.data.add_(p.grad, alpha=-lr))."
        )
        fix = (
            f"Let the optimizer make the update, or read its rate in the manual update:\n\n```python\n"
            f"optimizer.step()   # optimizer = torch.optim.{optimizer}(model.parameters(), lr=...)\n"
            "# or: lr = optimizer.param_groups[0]['lr']; p.data.add_(p.grad, alpha=-lr)\n```"
        )
    return [
        make_finding(
            "RD408",
            f"The train_step moved the weights by {update:.4g} at the configured learning rate and by "
            f"{half_rate_update:.4g} at half of it: it ignores the optimizer's rate. {cause} rnndoctor cannot "
            "sweep or change the rate, so the learning-rate checks were skipped.",
            fix,
            {
                "update_norm": update,
                "update_norm_at_half_rate": half_rate_update,
                "calls_optimizer_step": calls_optimizer_step,
            },
        )
    ]


def judge_clipping_order(stats: StepStats) -> list[Finding]:
    """RD407: clipping after the optimizer step changes gradients that were already applied."""
    if not stats.clipping_after_step:
        return []
    how = (
        "torch.nn.utils.clip_grad_norm_/clip_grad_value_ is called after optimizer.step()"
        if stats.clip_calls
        else "the gradients are rescaled after optimizer.step() (a clipping call imported under another name?)"
    )
    return [
        make_finding(
            "RD407",
            f"In the train_step {how}, and nowhere before it: the clipping rescales gradients that the step has "
            "already applied, so no update is ever clipped. Exploding gradients reach the weights as if there "
            "were no clipping at all.",
            "Clip between backward and step:\n\n```python\nloss.backward()\n"
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\noptimizer.step()\n```",
            {"clip_calls": stats.clip_calls, "optimizer_steps": stats.steps},
        )
    ]

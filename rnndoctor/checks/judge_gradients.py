"""Pure judgements of gradient health (RD209, RD210, RD401, RD402, RD405) and of the user's training
step (RD404, RD406)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnndoctor.core.catalogue import Rule, Wording, get_rule, snippet
from rnndoctor.core.findings import Finding, Severity


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
        loss_note = (
            f" (the loss itself is {stats.loss})" if stats.loss is not None and not math.isfinite(stats.loss) else ""
        )
        evidence = {
            "non_finite_parameters": bad[:10],
            "count": len(bad),
            "first_from_output": first,
            "loss": stats.loss,
        }
        return [get_rule("RD401").finding(evidence, {"loss_note": loss_note}, variant="non_finite")]
    if stats.total_norm <= exploding_norm:
        return []
    largest = max(stats.norms.items(), key=lambda kv: kv[1])
    evidence = {
        "total_norm": stats.total_norm,
        "largest_parameter": largest[0],
        "largest_norm": largest[1],
        "threshold": exploding_norm,
    }
    return [get_rule("RD401").finding(evidence)]


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
    evidence = {"earliest": first, "earliest_rms": g_first, "last": last, "last_rms": g_last, "ratio": ratio}
    return [get_rule("RD402").finding(evidence)]


def judge_no_gradient(stats: GradientStats) -> list[Finding]:
    """RD210: trainable parameters with no gradient, frozen ones handed to the optimizer, and trainable
    ones missing from it."""
    findings = []
    total = sum(stats.parameter_counts.values()) or 1
    if stats.no_grad:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.no_grad)
        modules = sorted({n.rsplit(".", 1)[0] if "." in n else n for n in stats.no_grad})
        evidence = {
            "parameters": stats.no_grad[:20],
            "modules": modules,
            "values": count,
            "share_of_model": count / total,
        }
        words = {"tensors": len(stats.no_grad), "where": ", ".join(modules[:6])}
        findings.append(get_rule("RD210").finding(evidence, words))
    if stats.unused:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.unused)
        modules = sorted({n.rsplit(".", 1)[0] if "." in n else n for n in stats.unused})
        evidence = {
            "parameters": stats.unused[:20],
            "modules": modules,
            "values": count,
            "share_of_model": count / total,
        }
        words = {"tensors": len(stats.unused), "where": ", ".join(modules[:6]), "first_module": modules[0]}
        findings.append(
            get_rule("RD210").finding(evidence, words, variant="unused", severity=Severity.WARNING, confidence=0.5)
        )
    deliberate = bool(stats.frozen_in_optimizer) and set(stats.frozen_in_optimizer) <= set(stats.frozen_embeddings)
    if stats.frozen_in_optimizer and not deliberate:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.frozen_in_optimizer)
        evidence = {"parameters": stats.frozen_in_optimizer[:20], "values": count}
        words = {"tensors": len(stats.frozen_in_optimizer), "named": ", ".join(stats.frozen_in_optimizer[:4])}
        findings.append(get_rule("RD210").finding(evidence, words, variant="frozen", severity=Severity.WARNING))
    if stats.not_in_optimizer:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.not_in_optimizer)
        evidence = {"parameters": stats.not_in_optimizer[:20], "values": count}
        words = {"tensors": len(stats.not_in_optimizer), "named": ", ".join(stats.not_in_optimizer[:4])}
        findings.append(get_rule("RD210").finding(evidence, words, variant="not_in_optimizer"))
    return findings


def judge_update_ratio(stats: UpdateStats, low: float, high: float) -> list[Finding]:
    """RD405: the median ||delta w|| / ||w|| of one real optimizer step outside [``low``, ``high``]."""
    values = sorted(v for v in stats.ratios.values() if math.isfinite(v))
    if not values:
        return []
    median = values[len(values) // 2]
    if low <= median <= high:
        return []
    at_lr = f" at lr={stats.lr:g}" if stats.lr is not None else ""
    current = stats.lr or 1e-3
    suggested = current * 1e-3 / median if median > 0 else current * 1e3
    evidence = {
        "median_ratio": median,
        "min_ratio": values[0],
        "max_ratio": values[-1],
        "lr": stats.lr,
        "optimizer": stats.optimizer,
    }
    words = {"at_lr": at_lr, "low": low, "high": high, "suggested": suggested}
    return [get_rule("RD405").finding(evidence, words, variant=None if median > high else "too_small")]


def judge_saturation(stats: SaturationStats, max_share: float) -> list[Finding]:
    """RD209: the share of saturated units in some layer/gate above ``max_share``."""
    saturated = {k: v for k, v in stats.shares.items() if v > max_share}
    if not saturated:
        return []
    worst, share = max(saturated.items(), key=lambda kv: kv[1])
    evidence = {"worst": worst, "share": share, "saturated": saturated, "samples": stats.samples}
    return [get_rule("RD209").finding(evidence, {"layers": len(saturated), "max_share": max_share})]


def judge_accumulation(stats: StepStats) -> list[Finding]:
    """RD404: the second call of the user's step leaves about twice the gradient of the first."""
    if stats.cleared_after_step or stats.grad_growth is None or stats.grad_growth < 1.5:
        return []
    evidence = {"grad_growth": stats.grad_growth, "zero_grad_calls": stats.zero_grad_calls, "steps": stats.steps}
    return [get_rule("RD404").finding(evidence)]


def judge_eval_mode_steps(stats: StepStats) -> list[Finding]:
    """RD406: optimizer steps taken while dropout or batch-norm modules are in eval mode."""
    if stats.eval_mode_steps == 0 or not stats.eval_modules:
        return []
    evidence = {"eval_mode_steps": stats.eval_mode_steps, "steps": stats.steps, "modules": stats.eval_modules}
    return [get_rule("RD406").finding(evidence, {"named": ", ".join(stats.eval_modules[:4])})]


def judge_rate_control(
    follows_rate: bool, calls_optimizer_step: bool, update: float, half_rate_update: float, optimizer: str
) -> list[Finding]:
    """RD408: the step moves the weights the same at the optimizer's rate and at half of it."""
    if follows_rate:
        return []
    evidence = {
        "update_norm": update,
        "update_norm_at_half_rate": half_rate_update,
        "calls_optimizer_step": calls_optimizer_step,
    }
    variant = None if calls_optimizer_step else "manual_update"
    return [get_rule("RD408").finding(evidence, {"optimizer": optimizer}, variant=variant)]


_RATE_IGNORED = (
    "The train_step moved the weights by {update_norm:.4g} at the configured learning rate and by "
    "{update_norm_at_half_rate:.4g} at half of it: it ignores the optimizer's rate. "
)
_RATE_SKIPPED = " rnndoctor cannot sweep or change the rate, so the learning-rate checks were skipped."


def judge_clipping_order(stats: StepStats) -> list[Finding]:
    """RD407: clipping after the optimizer step changes gradients that were already applied."""
    if not stats.clipping_after_step:
        return []
    how = (
        "torch.nn.utils.clip_grad_norm_/clip_grad_value_ is called after optimizer.step()"
        if stats.clip_calls
        else "the gradients are rescaled after optimizer.step() (a clipping call imported under another name?)"
    )
    return [get_rule("RD407").finding({"clip_calls": stats.clip_calls, "optimizer_steps": stats.steps, "seen": how})]


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD209",
        checks=("saturation",),
        message=(
            "At initialization {share:.0%} of the units in {worst} are saturated (sigmoid below 0.01 or above 0.99, "
            "tanh beyond ±0.99); {layers} layer/gate(s) exceed {max_share:.0%}. Saturated units pass almost no "
            "gradient, so those parts of the network start out unable to learn."
        ),
        remedy=(
            "Scale the inputs to unit variance and keep the default initialization; for very large inputs add a "
            "normalization layer before the RNN:\n\n```python\nx = (x - mean) / std\n```"
        ),
        title="saturated activations or gates",
        severity=Severity.WARNING,
        what=(
            "Captures what each recurrent layer receives on a few real samples, recomputes every gate pre-"
            "activation from the layer's weights (fused LSTM/GRU kernels do not expose them), and measures the "
            "share of sigmoid gates below 0.01 or above 0.99 and of tanh units beyond ±0.99; nn.Tanh and "
            "nn.Sigmoid modules are read with hooks."
        ),
        why=(
            "The derivative of tanh is 1 - tanh^2 and that of a sigmoid is s(1 - s): both are close to zero "
            "in saturation. A saturated unit passes almost no gradient, so the weights feeding it stop "
            "learning and a gate stuck open or shut cannot adapt. Unscaled inputs, large initial weights and "
            "too high a learning rate are the usual causes."
        ),
        symptoms=(
            "Loss plateaus early; gradient norms of the recurrent layers are tiny; hidden states sit at +1 and -1."
        ),
        fix=(
            "Normalize the inputs, shrink the weight initialization or the learning rate, and consider a "
            "LayerNorm on the layer's input."
        ),
        before=snippet(
            """
            x = torch.tensor(raw_features, dtype=torch.float32)    # values in the thousands
            out, _ = lstm(x)                                        # gates pinned at 0 or 1
            """
        ),
        after=snippet(
            """
            x = torch.tensor(raw_features, dtype=torch.float32)
            x = (x - train_mean) / train_std                        # statistics of the training split
            out, _ = lstm(x)
            """
        ),
        explains=("RD402", "RD403", "RD503", "RD505", "RD506"),
    ),
    Rule(
        code="RD210",
        checks=("gradients",),
        message=(
            "{tensors} trainable parameter tensor(s) in {where} ({values} values, {share_of_model:.0%} of the model) "
            "get no gradient from the loss. They are detached (.detach(), .data, torch.no_grad, a numpy round-trip) "
            "or never used in forward, so they never learn."
        ),
        remedy=(
            "Find where the graph is cut between these modules and the loss:\n\n```python\n"
            "features = self.encoder(x)            # not self.encoder(x).detach()\n"
            "for name, p in model.named_parameters():\n    print(name, p.grad is None)\n```"
        ),
        variants={
            "unused": Wording(
                message=(
                    "{tensors} trainable parameter tensor(s) in {where} ({values} values, {share_of_model:.0%} of the "
                    "model) belong to modules that never run in forward, so they get no gradient from this loss. Fine "
                    "for a head of a task switched off; a bug if the module was meant to be part of the model."
                ),
                remedy=(
                    "Call the module in forward, or leave its parameters out of the optimizer while it is unused:"
                    "\n\n```python\noptimizer = torch.optim.Adam(\n    (p for n, p in model.named_parameters() "
                    "if not n.startswith('{first_module}.')), lr=1e-3)\n```"
                ),
            ),
            "frozen": Wording(
                message=(
                    "{tensors} parameter tensor(s) have requires_grad=False but were given to the optimizer "
                    "({named}...): frozen, probably by mistake, since the optimizer was meant to train them."
                ),
                remedy=(
                    "Unfreeze them, or leave them out of the optimizer if freezing is intended:\n\n```python\n"
                    "for p in model.encoder.parameters():\n    p.requires_grad_(True)\n```"
                ),
            ),
            "not_in_optimizer": Wording(
                message=(
                    "{tensors} trainable parameter tensor(s) ({values} values) are not in the optimizer, e.g. "
                    "{named}: they get gradients but are never updated. The optimizer was built before these modules "
                    "were added or replaced."
                ),
                remedy=(
                    "Build the optimizer after the model is complete:\n\n```python\nmodel.head = nn.Linear(h, c)\n"
                    "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n```"
                ),
            ),
        },
        title="parameters receive no gradient (detached, frozen, unused)",
        severity=Severity.ERROR,
        what=(
            "Runs backward passes on two training batches and lists trainable parameters whose .grad stays None "
            "or exactly zero; it also reports parameters frozen with requires_grad=False that were given to the "
            "optimizer, and trainable parameters the optimizer does not hold."
        ),
        why=(
            "A parameter without a gradient never changes. When it sits on the main path, because the output "
            "was detached, round-tripped through NumPy or .item(), or the layer was frozen by mistake, the "
            "part of the model before it never trains; a layer that is defined but never called is dead "
            "weight."
        ),
        symptoms=(
            "Loss plateaus high or does not fall; some layers' weights are identical to their initial "
            'values; errors such as "element 0 of tensors does not require grad and does not have a '
            'grad_fn".'
        ),
        fix=(
            "Remove .detach(), .numpy() and torch.tensor(...) round-trips from the forward pass, re-enable "
            "requires_grad where it was switched off, and call or delete layers that are never used."
        ),
        before=snippet(
            """
            def forward(self, x):
                out, _ = self.rnn(x)
                feats = torch.tensor(out[:, -1].detach().numpy())   # cuts the graph
                return self.head(feats)
            """
        ),
        after=snippet(
            """
            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])
            """
        ),
        explains=("RD402", "RD503", "RD505", "RD506"),
    ),
    Rule(
        code="RD401",
        checks=("gradients",),
        message=(
            "The total gradient norm after one backward pass is {total_norm:.3g} (largest: '{largest_parameter}' with "
            "{largest_norm:.3g}). At this size a single step throws the weights far from where they were, and the "
            "loss jumps or becomes NaN."
        ),
        remedy=(
            "Clip the gradient norm in the training loop, and look for the cause (unscaled inputs, a recurrent "
            "weight scale above 1, a loss summed instead of averaged):\n\n```python\nloss.backward()\n"
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\noptimizer.step()\n```"
        ),
        variants={
            "non_finite": Wording(
                message=(
                    "{count} parameter(s) get NaN or infinite gradients after one backward pass; nearest the output: "
                    "'{first_from_output}'{loss_note}. The first optimizer step writes NaN into the weights and "
                    "training is lost."
                ),
                remedy=(
                    "Find the operation that overflows (log of 0, division by a zero length, exp of a large value) "
                    "and guard it; clip gradients as a safety net:\n\n```python\n"
                    "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n```"
                ),
            ),
            "curve": Wording(
                message=(
                    "The loss becomes NaN or infinite at epoch {first_epoch:g}: gradients exploded or a value "
                    "overflowed, and every weight is now NaN."
                ),
                remedy=(
                    "Clip gradients, lower the learning rate, and check inputs and the loss for values that overflow "
                    "(log of 0, division by a zero length)."
                ),
            ),
        },
        title="exploding or non-finite gradients",
        severity=Severity.ERROR,
        what=(
            "Backpropagates a real training batch and reports any NaN or infinite parameter gradient (naming the "
            "one nearest the output) or a total gradient norm above `exploding_norm` (1000 by default)."
        ),
        why=(
            "An update of learning rate times a huge gradient moves the weights far outside the region where "
            "the gradient was measured. In RNNs the repeated multiplication by the recurrent Jacobian makes "
            "such spikes likely on long sequences. One such step can saturate the network or overflow to Inf "
            "and NaN, and training does not recover."
        ),
        symptoms=(
            "Loss spikes suddenly and then turns nan; weights become nan; training goes well for a while and "
            "then diverges on particular batches."
        ),
        fix=(
            "Clip the gradient norm between backward() and step(), lower the learning rate, and remove the "
            "source of non-finite values (log of 0, division by 0, sqrt at 0) if there is one."
        ),
        before=snippet(
            """
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            """
        ),
        after=snippet(
            """
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            """
        ),
        explains=("RD502", "RD503", "RD504", "RD505", "RD506"),
    ),
    Rule(
        code="RD402",
        checks=("gradients",),
        message=(
            "The earliest recurrent weights ('{earliest}') get gradients {ratio:.2g} times as large as the last "
            "layer's ('{last}'): the signal fades on its way down the stack, so the lower layers barely learn."
        ),
        remedy=(
            "Use fewer stacked layers, add residual connections or layer normalization between them, and check "
            "for saturated activations:\n\n```python\nself.rnn = nn.LSTM(input_size, hidden, "
            "num_layers=2, batch_first=True)   # instead of 6+\n```"
        ),
        title="vanishing gradients across layers",
        severity=Severity.WARNING,
        what=(
            "After a backward pass, compares the root-mean-square gradient of the earliest recurrent layer's "
            "hidden-to-hidden weights with that of the last layer's weights (both act on bounded hidden states) "
            "and reports a ratio below `vanishing_ratio` (1e-3)."
        ),
        why=(
            "Backpropagation multiplies the Jacobians of all layers on the way down; saturating activations, "
            "deep stacks without residual connections or normalization, and poor initialization each shrink "
            "the signal. The early layers then hardly learn, and the network acts like a shallow model on "
            "top of random features."
        ),
        symptoms=(
            "Loss plateaus; the first layers' weights barely change during training; adding layers makes "
            "results worse instead of better."
        ),
        fix=(
            "Add residual connections and normalization (LayerNorm) between stacked recurrent layers, prefer "
            "non-saturating activations in feed-forward parts, or use fewer layers."
        ),
        before=snippet(
            """
            self.rnns = nn.ModuleList(nn.LSTM(128, 128, batch_first=True) for _ in range(6))

            def forward(self, x):
                for rnn in self.rnns:
                    x, _ = rnn(x)
                return x
            """
        ),
        after=snippet(
            """
            self.rnns = nn.ModuleList(nn.LSTM(128, 128, batch_first=True) for _ in range(6))
            self.norms = nn.ModuleList(nn.LayerNorm(128) for _ in range(6))

            def forward(self, x):
                for rnn, norm in zip(self.rnns, self.norms):
                    out, _ = rnn(norm(x))
                    x = x + out                        # residual path for the gradient
                return x
            """
        ),
    ),
    Rule(
        code="RD404",
        checks=("training_step",),
        message=(
            "Running the training step twice on the same batch at the same weights leaves gradients {grad_growth:.2f}x "
            "those of one call ({zero_grad_calls} zero_grad call(s) seen in {steps} steps): gradients accumulate "
            "across steps. Every update adds all earlier gradients again, so steps grow until the loss diverges."
        ),
        remedy=(
            "Clear the gradients once per step:\n\n```python\noptimizer.zero_grad()\nloss = loss_fn(model(x), y)\n"
            "loss.backward()\noptimizer.step()\n```"
        ),
        title="gradients accumulate across steps (no zero_grad)",
        severity=Severity.ERROR,
        what=(
            "Runs the configured train_step twice on the same batch, at the same weights and random state: if the"
            " step clears gradients the second call leaves the same gradients as the first, if it does not, twice"
            " as many. zero_grad calls are counted as supporting evidence."
        ),
        why=(
            "PyTorch adds each new gradient into .grad. Without optimizer.zero_grad(), every step uses the "
            "sum of all gradients since the start, so the step grows with the iteration count and keeps "
            "pointing in stale directions, like momentum that never decays."
        ),
        symptoms=(
            "Loss falls for a few steps, then oscillates or blows up; the gradient norm grows steadily; a "
            "lower learning rate only delays the divergence."
        ),
        fix=(
            "Call optimizer.zero_grad() once per step before backward(); if you accumulate on purpose over "
            "several batches, zero right after each optimizer.step()."
        ),
        before=snippet(
            """
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            """
        ),
        after=snippet(
            """
            for x, y in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            """
        ),
        explains=("RD401", "RD502", "RD503", "RD507"),
    ),
    Rule(
        code="RD405",
        checks=("gradients",),
        message=(
            "One {optimizer} step{at_lr} changes the weights by a median of {median_ratio:.2g} of their norm "
            "(healthy is around 1e-3, between {low:g} and {high:g}): too large; each step rewrites a sizeable part "
            "of the weights: training is unstable or diverges."
        ),
        remedy=(
            "Adjust the learning rate by the factor that brings the ratio near 1e-3, then confirm with the "
            "learning-rate sweep:\n\n```python\noptimizer = torch.optim.{optimizer}(model.parameters(), "
            "lr={suggested:.1g})\n```"
        ),
        variants={
            "too_small": Wording(
                message=(
                    "One {optimizer} step{at_lr} changes the weights by a median of {median_ratio:.2g} of their norm "
                    "(healthy is around 1e-3, between {low:g} and {high:g}): too small; each step changes the "
                    "weights by a negligible fraction: the loss will barely move."
                )
            )
        },
        title="update-to-weight ratio out of range",
        severity=Severity.WARNING,
        what=(
            "Takes one real step with the configured optimizer and learning rate after a backward pass (then "
            "restores everything) and computes, for each weight matrix, the norm of the change divided by the "
            "norm of the weights; it reports when the median ratio is outside 1e-6 to 0.1 (healthy is about "
            "1e-3)."
        ),
        why=(
            "The ratio says how much one step changes a weight compared with its size. Far above 1e-3 the "
            "weights are largely rewritten at every step and training is noisy or unstable; far below, they "
            "barely move and training crawls. Ratios that differ widely between layers mean one learning "
            "rate fits only some of them."
        ),
        symptoms=(
            "Too high: the loss jumps around or diverges. Too low: the loss falls very slowly and some "
            "layers' weights hardly change at all."
        ),
        fix=(
            "Scale the learning rate so typical ratios land near 1e-3, and give layers with very different "
            "ratios their own learning rate through parameter groups."
        ),
        before=snippet(
            """
            optimizer = torch.optim.SGD(model.parameters(), lr=1.0)     # |dw| / |w| ~ 0.3 per step
            """
        ),
        after=snippet(
            """
            optimizer = torch.optim.Adam(
                [
                    {"params": model.embed.parameters(), "lr": 1e-2},   # sparse rows, updated rarely
                    {"params": model.rnn.parameters()},
                    {"params": model.head.parameters()},
                ],
                lr=1e-3,
            )
            """
        ),
    ),
    Rule(
        code="RD406",
        checks=("training_step",),
        message=(
            "{eval_mode_steps} of {steps} optimizer steps ran with {named} in eval mode: dropout is off and batch "
            "norm uses frozen running statistics while training, so the model trains without regularization and "
            "its statistics never adapt. Usually model.eval() from a validation pass was never undone."
        ),
        remedy=(
            "Switch back to training mode at the start of every training step or epoch:\n\n```python\n"
            "model.train()\nfor x, y in train_loader:\n    ...\n```"
        ),
        title="optimizer steps taken in eval mode",
        severity=Severity.WARNING,
        what=(
            "Wraps optimizer.step() while the configured train_step runs and records, at each call, modules whose"
            " behaviour depends on the mode (dropout, batch norm, multi-layer RNN dropout) that are in eval mode;"
            " other modules in eval mode do not matter."
        ),
        why=(
            "In eval mode dropout is off and batch normalization uses, without updating, its running "
            "statistics, so the model trains without the intended regularization and with a different "
            "normalization. The usual cause is a validation pass that calls model.eval() and a training loop "
            "that never calls model.train() again. On CUDA, a cuDNN RNN refuses to backpropagate in eval "
            "mode."
        ),
        symptoms=(
            "Overfitting from the second epoch on although dropout is set; training metrics jump after the "
            'first validation; on GPU, "cudnn RNN backward can only be called in training mode".'
        ),
        fix=("Call model.train() at the start of every training epoch and model.eval() only around evaluation."),
        before=snippet(
            """
            for epoch in range(epochs):
                for x, y in train_loader:
                    train_step(model, x, y)
                model.eval()
                validate(model, val_loader)
            """
        ),
        after=snippet(
            """
            for epoch in range(epochs):
                model.train()
                for x, y in train_loader:
                    train_step(model, x, y)
                model.eval()
                with torch.no_grad():
                    validate(model, val_loader)
            """
        ),
    ),
    Rule(
        code="RD407",
        checks=("training_step",),
        message=(
            "In the train_step {seen}, and nowhere before it: the clipping rescales gradients that the step has "
            "already applied, so no update is ever clipped. Exploding gradients reach the weights as if there "
            "were no clipping at all."
        ),
        remedy=(
            "Clip between backward and step:\n\n```python\nloss.backward()\n"
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\noptimizer.step()\n```"
        ),
        title="gradient clipping runs after `optimizer.step()` (it clips nothing)",
        severity=Severity.ERROR,
        what=(
            "Runs the configured train_step and records, in order, the optimizer's step and every call of "
            "torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (and any change to the gradients after the step). "
            "Clipping that happens only after the last optimizer step of the call is reported."
        ),
        why=(
            "Clipping rescales the gradients that the next optimizer step will use. Placed after step(), it "
            "rescales gradients that have already been applied and are cleared before the next backward: the "
            "update is never clipped, so the exploding gradients it was added for still reach the weights."
        ),
        symptoms=(
            "Loss spikes and NaN after some epochs exactly as without clipping, although the code clips; "
            "lowering max_norm changes nothing."
        ),
        fix="Clip between loss.backward() and optimizer.step().",
        before=snippet(
            """
            loss.backward()
            optimizer.step()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            """
        ),
        after=snippet(
            """
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            """
        ),
        explains=("RD401", "RD502"),
    ),
    Rule(
        code="RD408",
        checks=("training_step",),
        message=(
            _RATE_IGNORED + "It calls optimizer.step(), so something inside it sets the rate itself (a scheduler "
            "such as OneCycleLR stepped in the train_step, or a rate written into param_groups)." + _RATE_SKIPPED
        ),
        remedy="Step schedulers outside the train_step (once per epoch or per step in your loop), not inside it.",
        variants={
            "manual_update": Wording(
                message=(
                    _RATE_IGNORED + "It never calls optimizer.step(): it updates the weights by hand with a rate of "
                    "its own (p.data.add_(p.grad, alpha=-lr))." + _RATE_SKIPPED
                ),
                remedy=(
                    "Let the optimizer make the update, or read its rate in the manual update:\n\n```python\n"
                    "optimizer.step()   # optimizer = torch.optim.{optimizer}(model.parameters(), lr=...)\n"
                    "# or: lr = optimizer.param_groups[0]['lr']; p.data.add_(p.grad, alpha=-lr)\n```"
                ),
            )
        },
        title="the training step updates weights without the optimizer's learning rate",
        severity=Severity.INFO,
        what=(
            "Runs the configured train_step twice from the same weights and batch, once at the optimizer's "
            "learning rate and once at half of it, and reports when the weights move exactly the same both "
            "times: the step updates them by hand with a rate of its own (p.data.add_(p.grad, alpha=-lr) with a "
            "constant), or a scheduler inside the step overwrites the rate."
        ),
        why=(
            "The learning-rate range test, the one-batch fit's retry and every learning-rate verdict work by "
            "setting the optimizer's rate; a step that ignores it cannot be swept, so those checks are skipped. "
            "It is also easy to get wrong by hand: weight decay, momentum and gradient clipping interact with "
            "the update, and the rate lives in two places."
        ),
        symptoms=("The learning-rate checks are skipped; changing optimizer_args.lr changes nothing in training."),
        fix=(
            "Let the optimizer make the update (torch.optim.SGD(model.parameters(), lr=lr) and optimizer.step()), "
            "or read the rate from optimizer.param_groups[0]['lr'] in the manual update."
        ),
        before=snippet(
            """
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-20.0)
            """
        ),
        after=snippet(
            """
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            optimizer.step()          # optimizer = torch.optim.SGD(model.parameters(), lr=20.0)
            """
        ),
    ),
)

"""Pure judgements of the training-dynamics checks (RD501-RD506)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnndoctor.findings import Finding, Severity
from rnndoctor.rules import Rule, Wording, get_rule, snippet


@dataclass
class Sweep:
    """A learning-rate range test: raw and smoothed loss per learning rate, in the order tried."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    configured_lr: float
    suggested_lr: float | None
    optimizer: str
    diverged_at: float | None = None
    """The learning rate at which the smoothed loss blew past the divergence bound (None if it never did)."""

    @property
    def initial(self) -> float:
        return self.smoothed[0] if self.smoothed else math.nan

    @property
    def lowest(self) -> tuple[float, float]:
        finite = [(loss, lr) for loss, lr in zip(self.smoothed, self.lrs, strict=True) if math.isfinite(loss)]
        loss, lr = min(finite) if finite else (math.nan, math.nan)
        return lr, loss

    def shows_learning(self, min_drop: float) -> bool:
        """The smoothed loss fell by at least ``min_drop`` of its start before diverging: only then does
        the curve say anything about the learning rate."""
        low = self.lowest[1]
        return math.isfinite(low) and self.initial - low >= min_drop * abs(self.initial)

    def onset(self, fraction: float) -> float | None:
        """The first learning rate where the smoothed loss has fallen by ``fraction`` of its total drop."""
        lr_low, low = self.lowest
        drop = self.initial - low
        if not math.isfinite(drop) or drop <= 0:
            return None
        for lr, loss in zip(self.lrs, self.smoothed, strict=True):
            if loss <= self.initial - fraction * drop:
                return lr
            if lr >= lr_low:
                break
        return lr_low


@dataclass
class FitResult:
    """Training on one fixed batch."""

    lr: float
    initial_loss: float
    final_loss: float
    steps: int
    fitted: bool
    accuracy: float | None = None
    predicted_classes: int | None = None
    target_classes: int | None = None
    losses: list[float] = field(default_factory=list)

    @property
    def dropped(self) -> float:
        """How far the loss fell over the run, as a share of its starting magnitude (-inf if it blew up)."""
        if not math.isfinite(self.initial_loss) or not math.isfinite(self.final_loss):
            return -math.inf
        return (self.initial_loss - self.final_loss) / max(abs(self.initial_loss), 1e-12)

    @property
    def still_falling(self) -> bool:
        """The loss fell by more than a tenth of its total fall over the run's last fifth: the step budget,
        not the model, ended the run."""
        values = [v for v in self.losses if math.isfinite(v)]
        if len(values) < 10 or len(values) < len(self.losses):
            return False
        total = values[0] - values[-1]
        tail = values[-(len(values) // 5) - 1] - values[-1]
        return total > 0 and tail > 0.1 * total and tail > 1e-3 * max(abs(values[0]), 1e-12)

    @property
    def moved(self) -> float:
        """Relative change of the loss over the run."""
        if not math.isfinite(self.initial_loss) or not math.isfinite(self.final_loss):
            return math.inf
        return abs(self.initial_loss - self.final_loss) / max(abs(self.initial_loss), 1e-12)


def judge_learning_rate(
    sweep: Sweep,
    low_factor: float,
    onset_fraction: float,
    high_factor: float,
    min_drop: float,
    diverged_elsewhere: float | None = None,
) -> list[Finding]:
    """RD501 when the configured rate is more than ``low_factor`` below the onset of learning;
    RD502 when it is at or beyond divergence, or more than ``high_factor`` above the loss minimum.
    No verdict when the sweep shows no learning at any rate (the cause is elsewhere), unless the configured
    rate is at or beyond a rate where the sweep diverged (``diverged_elsewhere``: a second sweep's): training
    there blows up whatever else is wrong."""
    lr = sweep.configured_lr
    divergences = [d for d in (sweep.diverged_at, diverged_elsewhere) if d is not None]
    if not sweep.shows_learning(min_drop) and (not divergences or lr < min(divergences)):
        return []
    onset = sweep.onset(onset_fraction)
    lr_min, loss_min = sweep.lowest
    suggestion = sweep.suggested_lr
    evidence = {
        "configured_lr": lr,
        "suggested_lr": suggestion,
        "onset_lr": onset,
        "lowest_loss_lr": lr_min,
        "diverged_at": sweep.diverged_at,
        "initial_loss": sweep.initial,
        "lowest_loss": loss_min,
    }
    words: dict[str, object] = {
        "optimizer": sweep.optimizer,
        "advice": f"lr={suggestion:.2g}" if suggestion is not None else "a learning rate inside the falling stretch",
        "suggests": f" The sweep suggests {suggestion:.2g}." if suggestion is not None else "",
    }
    if onset is not None and lr < onset / low_factor and sweep.shows_learning(min_drop):
        gap = math.log10(onset / lr)
        return [get_rule("RD501").verdict(evidence, {**words, "gap": gap}, confidence=min(1.0, 0.6 + 0.2 * gap))]
    beyond_divergence = bool(divergences) and lr >= min(divergences)
    if beyond_divergence:
        evidence["diverged_at"] = min(divergences)
    past_minimum = math.isfinite(lr_min) and lr > lr_min * high_factor
    if beyond_divergence or past_minimum:
        if beyond_divergence:
            return [get_rule("RD502").verdict(evidence, words, confidence=0.9)]
        words["decades"] = math.log10(lr / lr_min)
        return [get_rule("RD502").verdict(evidence, words, variant="past_minimum", confidence=0.7)]
    return []


def judge_overfit(
    configured: FitResult,
    retry: FitResult | None,
    still: float,
    lr_verdict: str | None,
    learned_share: float,
    stuck_share: float,
) -> list[Finding]:
    """RD503 (cannot fit one batch), RD505 (the loss does not move), RD504 (predictions collapse).

    Judged on how far the loss fell, as a share of its starting magnitude (losses can be negative). A run
    whose loss fell by ``learned_share``, or is still falling when the step budget ends, is learning. RD503
    is an error when every run fell by less than ``stuck_share``, a margin below ``learned_share`` so that
    float noise between machines cannot flip the verdict (a run in between is inconclusive: no finding);
    a warning that blames the learning rate when only the retry at another rate learned.
    """
    findings: list[Finding] = []
    evidence: dict[str, object]
    if configured.moved <= still and not configured.fitted:
        evidence = {
            "initial_loss": configured.initial_loss,
            "final_loss": configured.final_loss,
            "relative_change": configured.moved,
            "steps": configured.steps,
            "lr": configured.lr,
        }
        findings.append(get_rule("RD505").verdict(evidence))

    def learns(run: FitResult) -> bool:
        return run.fitted or run.dropped >= learned_share or run.still_falling

    runs = [configured] + ([retry] if retry is not None else [])
    if learns(configured):
        return findings
    if configured.predicted_classes == 1 and (configured.target_classes or 0) > 1:
        evidence = {
            "predicted_classes": configured.predicted_classes,
            "target_classes": configured.target_classes,
            "accuracy": configured.accuracy,
        }
        findings.append(get_rule("RD504").verdict(evidence, {"steps": configured.steps}))
    fixed_by_lr = retry is not None and learns(retry)
    if not fixed_by_lr and any(run.dropped >= stuck_share for run in runs):
        return findings
    evidence = {
        "initial_loss": configured.initial_loss,
        "final_loss": configured.final_loss,
        "steps": configured.steps,
        "accuracy": configured.accuracy,
        "lr": configured.lr,
        "retry_lr": retry.lr if retry else None,
        "retry_final_loss": retry.final_loss if retry else None,
        "retry_fitted": retry.fitted if retry else None,
    }
    rule = get_rule("RD503")
    if fixed_by_lr and retry is not None:
        words: dict[str, object] = {
            "learns": "fits it" if retry.fitted else "learns it",
            "retry_initial_loss": retry.initial_loss,
            "retry_steps": retry.steps,
        }
        verdict = rule.verdict(
            evidence, words, variant="learning_rate", severity=Severity.WARNING, confidence=0.6, explains=("RD505",)
        )
    else:
        words = {
            "batch_accuracy": (
                f", batch accuracy {configured.accuracy:.0%}" if configured.accuracy is not None else ""
            ),
            "tried": f" and at lr={retry.lr:.2g} (loss {retry.final_loss:.4g})" if retry is not None else "",
        }
        verdict = rule.verdict(evidence, words, severity=None, confidence=0.8, explains=("RD505",))
    findings.append(verdict)
    return findings


def judge_input_ignored(
    normal: FitResult,
    blind: FitResult,
    tolerance: float,
    sensitivity: float | None = None,
    max_sensitivity: float = math.inf,
) -> list[Finding]:
    """RD506: the fit with the inputs zeroed ends as low as the fit with the real inputs, and the outputs
    barely move when the inputs are zeroed (``sensitivity`` at most ``max_sensitivity``): a model whose
    outputs clearly read the input is not ignoring it, however poorly it fits."""
    if normal.fitted or not (math.isfinite(normal.final_loss) and math.isfinite(blind.final_loss)):
        return []
    if sensitivity is not None and sensitivity > max_sensitivity:
        return []
    gain = blind.final_loss - normal.final_loss
    scale = max(abs(blind.initial_loss - blind.final_loss), abs(blind.final_loss), 1e-12)
    if gain > tolerance * scale:
        return []
    evidence = {
        "final_loss_real_inputs": normal.final_loss,
        "final_loss_zero_inputs": blind.final_loss,
        "steps": normal.steps,
        "input_sensitivity": sensitivity,
    }
    return [get_rule("RD506").verdict(evidence, explains=("RD503", "RD504", "RD505"))]


@dataclass
class Chance:
    """The loss of the best constant prediction, and the accuracy of always predicting the majority."""

    loss: float
    basis: str
    majority: float | None = None


@dataclass
class ShortRun:
    """Training loss (and accuracy) per epoch of a short run at one learning rate."""

    losses: list[float | None]
    accuracies: list[float | None]
    lr: float

    @property
    def finite(self) -> list[float]:
        return [v for v in self.losses if v is not None and math.isfinite(v)]


def at_chance(run: ShortRun, chance: Chance, margin: float) -> bool:
    """The last epoch's loss within ``margin`` (relative) of chance and not learning: not falling by half
    the margin per epoch, nor below chance and still falling epoch after epoch by a twentieth of the margin
    (slow learning, as opposed to the creep of memorizing noise); and the accuracy (when known) no better
    than the majority class by the margin."""
    losses = run.finite
    if len(losses) < 3 or len(losses) < len(run.losses) or chance.loss <= 0:
        return False
    final = losses[-1]
    near = abs(final - chance.loss) <= margin * chance.loss
    slow = final < chance.loss and final < losses[-2] < losses[-3] and losses[-2] - final > margin / 20 * chance.loss
    falling = losses[-2] - final > margin / 2 * chance.loss or slow
    accuracy = next((a for a in reversed(run.accuracies) if a is not None), None)
    better = accuracy is not None and chance.majority is not None and accuracy > chance.majority + margin
    return near and not falling and not better


def judge_chance_level(run: ShortRun, retry: ShortRun | None, chance: Chance, margin: float) -> list[Finding]:
    """RD507: the short run ends at chance level, and so does a second run at the sweep's suggested rate
    when there is one (a run that leaves chance at another rate is the learning-rate checks' business)."""
    if not at_chance(run, chance, margin):
        return []
    losses = run.finite
    evidence = {
        "train_loss": [round(v, 6) for v in losses],
        "chance_loss": chance.loss,
        "chance_basis": chance.basis,
        "majority_share": chance.majority,
        "lr": run.lr,
        "epochs": len(losses),
    }
    if retry is not None and not at_chance(retry, chance, margin):
        return []  # another rate leaves chance: the learning-rate checks own that verdict
    accuracy = next((a for a in reversed(run.accuracies) if a is not None), None)
    words = {
        "final_loss": losses[-1],
        "accuracy": (
            f", with accuracy {accuracy:.0%} against a majority share of {chance.majority:.0%}"
            if accuracy is not None and chance.majority is not None
            else ""
        ),
        "tried": (
            f" A second run at lr={retry.lr:.2g} stayed there too ({retry.finite[-1]:.4g})."
            if retry and retry.finite
            else ""
        ),
    }
    return [get_rule("RD507").verdict(evidence, words, confidence=0.7)]


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD501",
        checks=("lr_sweep",),
        message=(
            "The configured learning rate {configured_lr:.2g} ({optimizer}) is {gap:.1f} decades below where the "
            "loss starts to fall in the range test ({onset_lr:.2g}); at this rate each step changes the weights so "
            "little that the loss stays flat for thousands of steps.{suggests}"
        ),
        remedy=(
            "Use the suggested rate:\n\n```python\noptimizer = torch.optim.{optimizer}(model.parameters(), "
            "{advice})\n```\n\nThe learning-rate curve is in the report's plots (`--plots DIR` for PNGs)."
        ),
        title="learning rate too low",
        severity=Severity.ERROR,
        what=(
            "Runs a learning-rate range test: the configured optimizer trains on the sampled batches while the "
            "learning rate grows exponentially from min_lr to max_lr, one step per rate, stopping once the "
            "smoothed loss diverges; weights and optimizer state are restored after. It reports when the "
            "configured rate is more than `too_low_factor` (100x) below the rate where the loss starts to fall. "
            "No verdict is given when the loss does not fall at any rate."
        ),
        why=(
            "With steps this small, the loss falls so slowly that a realistic training budget ends with the "
            "model still near its initialization. It looks as if the model cannot learn, although nothing "
            "else is wrong."
        ),
        symptoms=(
            "Loss decreases slowly and almost linearly, or looks flat; accuracy barely above chance after many epochs."
        ),
        fix=(
            "Raise the learning rate to about the suggested value (lr_sweep's suggested_lr in the report), "
            "optionally with a short warm-up."
        ),
        before=snippet(
            """
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)
            """
        ),
        after=snippet(
            """
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)   # near lr_sweep's suggested_lr
            """
        ),
        explains=("RD405", "RD503", "RD504", "RD505", "RD507"),
    ),
    Rule(
        code="RD502",
        checks=("lr_sweep",),
        message=(
            "The configured learning rate {configured_lr:.2g} ({optimizer}) sits at or beyond {diverged_at:.2g}, "
            "where the loss diverged in the range test. Training will oscillate, stall at a high loss or produce "
            "NaN.{suggests}"
        ),
        remedy=(
            "Use the suggested rate:\n\n```python\noptimizer = torch.optim.{optimizer}(model.parameters(), "
            "{advice})\n```\n\nThe learning-rate curve is in the report's plots (`--plots DIR` for PNGs). To keep a "
            "high rate on a recurrent net, clip the gradient norm between backward and step "
            "(`torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`): the sweep trains with your own "
            "train_step, so clipping there is measured."
        ),
        variants={
            "past_minimum": Wording(
                message=(
                    "The configured learning rate {configured_lr:.2g} ({optimizer}) sits {decades:.1f} decades above "
                    "the rate with the lowest loss ({lowest_loss_lr:.2g}), where the loss rises again. Training will "
                    "oscillate, stall at a high loss or produce NaN.{suggests}"
                ),
            ),
            "curve_diverging": Wording(
                message=(
                    "The training loss fell to {lowest_loss:.4g} and then rose to {last_loss:.4g} ({rise:.0%} above "
                    "its minimum): training diverges, the typical sign of a learning rate too high for the later stage."
                ),
                remedy="Lower the learning rate (or decay it), and clip gradients.",
            ),
            "curve_oscillating": Wording(
                message=(
                    "The training loss oscillates: {reversal_share:.0%} of epoch-to-epoch changes reverse direction, "
                    "with a median swing of {median_swing:.0%}. Steps overshoot the minimum: the learning rate is too "
                    "high."
                ),
                remedy="Lower the learning rate by 3-10x or add a decaying schedule.",
            ),
        },
        title="learning rate too high",
        severity=Severity.ERROR,
        what=(
            "Uses the same range test and reports when the configured rate is at or beyond the rate where the "
            "loss diverged, or more than `too_high_factor` (3x) above the rate with the lowest loss, where the "
            "loss climbs again."
        ),
        why=(
            "Each step overshoots the minimum along the steep directions of the loss surface, so the loss "
            "rises instead of falling. In recurrent models large updates can also push the recurrent weights "
            "into the unstable regime, where gradients explode."
        ),
        symptoms=(
            "Loss jumps around or increases; nan after a few iterations; accuracy oscillates, or the model "
            "collapses to predicting one class."
        ),
        fix=(
            "Lower the learning rate to about the suggested value, and add a warm-up and gradient clipping "
            "for stability."
        ),
        before=snippet(
            """
            optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
            loss.backward()
            optimizer.step()
            """
        ),
        after=snippet(
            """
            optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)   # near suggested_lr
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            """
        ),
        explains=("RD405", "RD503", "RD504", "RD507"),
    ),
    Rule(
        code="RD503",
        checks=("overfit_batch",),
        message=(
            "The model cannot fit one fixed batch: after {steps} steps at lr={lr:.2g} the loss went from "
            "{initial_loss:.4g} to {final_loss:.4g}{batch_accuracy}{tried}. A sound setup memorizes one batch easily; "
            "this one has a bug between inputs, model, loss and targets."
        ),
        remedy=(
            "Fix the findings ranked above first; then overfit one batch by hand:\n\n```python\n"
            "x, y = next(iter(train_loader))\nfor step in range(300):\n    optimizer.zero_grad()\n"
            "    loss = loss_fn(model(x), y)\n    loss.backward()\n    optimizer.step()\nprint(loss.item())  "
            "# should approach 0\n```"
        ),
        variants={
            "learning_rate": Wording(
                message=(
                    "At the configured lr={lr:.2g} the model cannot fit a single batch in {steps} steps (loss "
                    "{initial_loss:.4g} -> {final_loss:.4g}), but at lr={retry_lr:.2g} it {learns} "
                    "({retry_initial_loss:.4g} -> {retry_final_loss:.4g} in {retry_steps} steps): the learning "
                    "rate, not the model, is the problem."
                ),
            ),
        },
        title="cannot overfit a single batch",
        severity=Severity.ERROR,
        what=(
            "Trains on a few samples of one fixed batch with the configured optimizer and rate, stopping as soon "
            "as batch accuracy reaches 100% (or the loss falls below 1% of its start). When it does not, it tries"
            " once more at the range test's suggested rate to tell a wrong learning rate from a model that cannot"
            " fit; a run that halves the loss counts as learning."
        ),
        why=(
            "A model with any reasonable capacity and a correct pipeline memorises one small batch. If it "
            "cannot, something in the chain from inputs to weights is broken: the loss wiring, the gradient "
            "flow, the optimizer, or the pairing of inputs and targets. More data or more epochs will not "
            "help."
        ),
        symptoms=(
            "Full training stalls at a high loss, and changing the architecture or the hyper-parameters does "
            "not change that."
        ),
        fix=(
            "Fix the findings ranked above this one first, as they usually explain it; then run the "
            "single-batch loop yourself and check the loss reaches near zero, looking at gradient flow and "
            "at what the optimizer actually holds."
        ),
        before=snippet(
            """
            model = Tagger(vocab_size, num_tags)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            model = Tagger(vocab_size, num_tags)      # rebuilt: the optimizer holds the old weights
            for step in range(200):
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            """
        ),
        after=snippet(
            """
            model = Tagger(vocab_size, num_tags)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)   # built from the final model
            for step in range(200):
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            print(loss.item())                        # near 0 on one batch
            """
        ),
    ),
    Rule(
        code="RD504",
        checks=("overfit_batch",),
        message=(
            "After {steps} steps on one batch the model predicts a single class for every sample, while the batch "
            "holds {target_classes} classes: it settled on the majority answer."
        ),
        remedy=(
            "Look for what makes the input uninformative (normalization, a detached encoder, padding read instead "
            "of content) and balance the classes if one dominates."
        ),
        title="predictions collapse to one class",
        severity=Severity.WARNING,
        what=(
            "At the end of the single-batch fit that did not succeed, counts the distinct classes the model "
            "predicts on the batch and reports when it predicts one class for every sample although the batch "
            "holds several."
        ),
        why=(
            "Predicting the most frequent class is the cheapest way to reduce the loss early on. When the "
            "input signal is hard to reach (class imbalance, a learning rate that is too high, unnormalized "
            "inputs, a cut gradient path), the model settles there and the pull toward the other classes is "
            "too weak to get it out."
        ),
        symptoms=(
            "Accuracy equals the majority share (50% on a balanced binary task); the confusion matrix has "
            "one filled column; loss flat at the label entropy, 0.693 (= ln 2) for balanced binary labels."
        ),
        fix=(
            "Fix the root cause reported above it; common remedies are class weights in the loss, a lower "
            "learning rate and normalized inputs."
        ),
        before=snippet(
            """
            loss_fn = nn.CrossEntropyLoss()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
            """
        ),
        after=snippet(
            """
            loss_fn = nn.CrossEntropyLoss(weight=class_weights)        # inverse class frequency
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            """
        ),
    ),
    Rule(
        code="RD505",
        checks=("overfit_batch",),
        message=(
            "Training on one fixed batch for {steps} steps at lr={lr:.2g} moved the loss from {initial_loss:.4g} to "
            "{final_loss:.4g} (a relative change of {relative_change:.1e}): no learning signal reaches the weights."
        ),
        remedy=(
            "Check that the loss depends on trainable parameters (no detach, no frozen model, a learning rate above "
            "zero) and that the optimizer holds the model's parameters."
        ),
        variants={
            "curve": Wording(
                message=(
                    "The training loss stays at {last_loss:.4g}{chance} over {epochs} epochs (relative change "
                    "{relative_change:.1e}): nothing is learned."
                ),
                remedy=(
                    "Run `rnndoctor check` on the setup: a flat loss comes from a learning rate far too low, a "
                    "detached or frozen model, collapsed labels or inputs that carry no signal."
                ),
            ),
        },
        title="loss does not move at all",
        severity=Severity.ERROR,
        what=(
            "Reports when the single-batch fit moves the loss by less than 0.1% of its starting value: no "
            "learning signal reaches the weights. `rnndoctor curves` reports it too when a training log's loss "
            "stays flat (noting when it sits at ln C, chance level)."
        ),
        why=(
            "A loss that does not change at all means the optimizer step has no effect on the output: the "
            "learning rate is zero, the optimizer holds other parameters, the gradients are all zero because "
            "the graph is cut, or step() is never called. Unlike slow learning, nothing will emerge with "
            "more time."
        ),
        symptoms=(
            "The same loss at every step to many decimal places (for example exactly 0.6931 every epoch); "
            "weights identical to their initial values."
        ),
        fix=(
            "Make sure optimizer.step() is called, that the optimizer was built from model.parameters() of "
            "the model being trained, and that the loss reaches the outputs without .item() or .detach() "
            "before backward()."
        ),
        before=snippet(
            """
            loss = loss_fn(model(x), y)
            loss = torch.tensor(loss.item(), requires_grad=True)   # a new leaf, not linked to the model
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            """
        ),
        after=snippet(
            """
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_value = loss.item()                               # for logging only
            """
        ),
    ),
    Rule(
        code="RD506",
        checks=("overfit_batch",),
        message=(
            "With every input replaced by zeros the model fits the batch just as well (final loss "
            "{final_loss_zero_inputs:.4g}) as with the real inputs ({final_loss_real_inputs:.4g}): its outputs do "
            "not depend on the input, only on biases."
        ),
        remedy=(
            "Trace the input through forward: a variable overwritten, the wrong tensor read out (padding, an unused "
            "branch), a detached or zero-multiplied path."
        ),
        title="model ignores its input",
        severity=Severity.ERROR,
        what=(
            "When the single-batch fit does not succeed, repeats it with every input replaced by zeros (the "
            "padding id for token ids) and reports when the real inputs end no lower than the zeroed ones: the "
            "outputs do not depend on the input."
        ),
        why=(
            "If the loss reached without the real input is just as low, the predictions come from the bias "
            "and the label frequencies, not from the sequence. Typical causes are a forward pass that reads "
            "the wrong tensor (such as the initial hidden state instead of the final one), a cut between "
            "input and output, or preprocessing that empties the features."
        ),
        symptoms=(
            "Accuracy equals the majority share; loss flat at the label entropy, 0.693 (= ln 2) for balanced "
            "binary labels; the same output for every input."
        ),
        fix=(
            "Trace the input through forward(): make sure the head reads a tensor that depends on x, and "
            "that the features still vary after preprocessing."
        ),
        before=snippet(
            """
            def forward(self, x):
                h0 = torch.zeros(1, x.size(0), self.hidden_size)
                out, h_n = self.rnn(x, h0)
                return self.head(h0[-1])          # reads the initial state, not the result
            """
        ),
        after=snippet(
            """
            def forward(self, x):
                h0 = torch.zeros(1, x.size(0), self.hidden_size)
                out, h_n = self.rnn(x, h0)
                return self.head(h_n[-1])
            """
        ),
    ),
    Rule(
        code="RD507",
        checks=("overfitting",),
        message=(
            "After {epochs} epochs over the sampled training batches at lr={lr:.2g} the training loss is "
            "{final_loss:.4g}, at chance level ({chance_loss:.4g}, {chance_basis}){accuracy}.{tried} The model finds "
            "nothing in the inputs that predicts the targets beyond their overall distribution. With the data, the "
            "wiring and the learning rate passing their checks, the usual cause is targets that do not belong to "
            "their samples (labels shuffled or sorted apart from the inputs, a join on the wrong key)."
        ),
        remedy=(
            "Print a few (input, target) pairs and check them by hand; shuffle samples and labels together:\n\n"
            "```python\nperm = torch.randperm(len(x))\nx, y = x[perm], y[perm]     # one permutation for both\n```"
        ),
        title="training stays at chance level in the short run",
        severity=Severity.ERROR,
        what=(
            "Trains a few epochs over the sampled training batches with the configured optimizer (and "
            "train_step) and compares the training loss with chance level: the entropy of the label "
            "distribution for class losses (ln C when balanced, ln 2 for binary), the target variance for "
            "squared error. Reported when the loss ends within a small margin of chance and has stopped "
            "falling, and nothing more specific explains it."
        ),
        why=(
            "A model that stays at chance across many batches has found no relation between inputs and "
            "targets that holds beyond single samples. When the data, the wiring and the learning rate pass "
            "their checks, the usual cause is that the targets do not belong to the inputs: labels shuffled or "
            "sorted separately from the samples, a join on the wrong key, features and labels read from "
            "different files."
        ),
        symptoms=(
            "Loss flat at 0.693 (binary) or ln C, accuracy at the majority-class share, for every learning "
            "rate tried; the model can still memorize a handful of samples."
        ),
        fix=(
            "Check that every target is paired with its own sample: print a few (input, target) pairs and "
            "check them by hand, and shuffle samples and labels together (one permutation, or a Dataset "
            "that returns both)."
        ),
        before=snippet(
            """
            x = torch.stack(features)
            y = torch.tensor(labels)[torch.randperm(len(labels))]   # shuffled on their own
            dataset = TensorDataset(x, y)
            """
        ),
        after=snippet(
            """
            x = torch.stack(features)
            y = torch.tensor(labels)
            dataset = TensorDataset(x, y)
            loader = DataLoader(dataset, batch_size=32, shuffle=True)   # pairs shuffled together
            """
        ),
    ),
)

"""Pure judgements of the loss/target checks (RD301-RD308): measured numbers in, findings out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, get_rule, snippet
from rnndoctor.core.findings import Finding, Severity

CLASS_LIKE_MAX_VALUES = 20
"""The default of the loss check's ``class_like_max_values`` option: integer targets with at most this many
distinct values look like class ids (RD301)."""


@dataclass
class LossMeasurement:
    """What the outputs, targets and loss of one batch look like."""

    loss: str
    family: str
    output_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    target_is_float: bool
    target_integer_valued: bool
    target_values: list[float] = field(default_factory=list)
    """Distinct target values, when there are few (at most CLASS_LIKE_MAX_VALUES + 1)."""
    target_one_hot: bool = False
    output_min: float = 0.0
    output_max: float = 0.0
    rows_are_probabilities: bool = False
    """Along the loss's class axis: every value in [0, 1] and every row summing to 1."""
    rows_are_log_probabilities: bool = False
    """Along the loss's class axis: logsumexp of every row is 0."""
    last_axis_log_probabilities: bool = False
    """The same along the outputs' last axis (where a model's log_softmax(dim=-1) puts them)."""
    last_op: str = ""
    loss_value: float | None = None
    loss_error: str | None = None
    num_classes: int | None = None
    label_entropy: float | None = None
    target_mean: float | None = None
    target_variance: float | None = None
    class_axis_gradient_balance: float | None = None
    """|sum of dLoss/dHead along the head's feature axis| relative to its magnitude: ~0 when the loss's
    class axis is the one the model's last layer produces."""
    head_feature_axis: int | None = None
    head_name: str = ""
    padded_positions: int = 0
    padded_scored: int = 0
    ignore_index: int | None = None


def judge_regression_on_classes(
    m: LossMeasurement, max_values: int = CLASS_LIKE_MAX_VALUES, min_class_ids: int = 3
) -> list[Finding]:
    """RD301: a regression loss on targets that are class ids (at most ``max_values`` distinct integers; one
    per sample taking exactly 0..K-1 with K >= ``min_class_ids``) or one-hot rows."""
    if m.family != "regression" or not m.target_integer_valued:
        return []
    values = m.target_values
    if not values or len(values) > max_values or len(values) < 2:
        return []
    per_sample = len(m.target_shape) == 1 or (len(m.target_shape) == 2 and m.target_shape[-1] == 1)
    binary = set(values) <= {0.0, 1.0} and per_sample
    one_hot = m.target_one_hot and m.output_shape == m.target_shape
    many_outputs = len(m.output_shape) >= 2 and m.output_shape[-1] > 1 and m.output_shape != m.target_shape
    class_ids = per_sample and len(values) >= min_class_ids and values == [float(i) for i in range(len(values))]
    if not (one_hot or many_outputs or binary or class_ids):
        return []
    if one_hot:
        cause = f"the targets are one-hot rows over {m.target_shape[-1]} classes"
    elif many_outputs:
        cause = f"the model outputs {m.output_shape[-1]} scores per sample and the targets are class ids"
    elif class_ids:
        cause = f"the targets take exactly the values 0 to {len(values) - 1}: class ids regressed as numbers"
    else:
        cause = "the targets are 0/1 labels"
    severity = Severity.WARNING if (binary and not one_hot and not many_outputs) else None
    evidence = {
        "loss": m.loss,
        "target_values": values[:max_values],
        "output_shape": list(m.output_shape),
        "target_shape": list(m.target_shape),
    }
    words = {"cause": cause, "values": _values(values)}
    return [get_rule("RD301").finding(evidence, words, severity=severity, confidence=0.8 if severity is None else 0.5)]


def judge_probabilities_into_logit_loss(m: LossMeasurement) -> list[Finding]:
    """RD302: softmax-ed rows into CrossEntropyLoss, or sigmoid-ed values into BCEWithLogitsLoss."""
    if m.loss == "CrossEntropyLoss" and m.rows_are_probabilities:
        variant = None
    elif m.loss == "BCEWithLogitsLoss" and m.last_op.startswith("Sigmoid"):
        variant = "sigmoid"
    else:
        return []
    floor = None
    if m.loss == "CrossEntropyLoss" and m.num_classes:
        c = m.num_classes
        floor = -math.log(math.e / (math.e + c - 1))
    evidence = {
        "loss": m.loss,
        "output_min": m.output_min,
        "output_max": m.output_max,
        "last_op": m.last_op,
        "loss_floor": floor,
    }
    words = {
        "op": m.last_op or "unknown",
        "floor": f" of {floor:.3f} for {m.num_classes} classes" if floor is not None else "",
        "head": _head(m),
    }
    return [get_rule("RD302").finding(evidence, words, variant=variant)]


def judge_scores_into_probability_loss(m: LossMeasurement) -> list[Finding]:
    """RD303: BCELoss on unbounded outputs; NLLLoss, KLDivLoss or a CTC loss on outputs that are not
    log-probabilities."""
    log_prob_loss = "ctc" in m.loss.lower() or m.loss == "KLDivLoss"
    rule = get_rule("RD303")
    if log_prob_loss and len(m.output_shape) >= 2 and not m.last_axis_log_probabilities:
        evidence = {
            "loss": m.loss,
            "output_min": m.output_min,
            "output_max": m.output_max,
            "probabilities": m.rows_are_probabilities,
        }
        words = {
            "shape": list(m.output_shape),
            "what": "probabilities (softmax)" if m.rows_are_probabilities else "raw scores",
            "head": _head(m),
        }
        return [rule.finding(evidence, words, variant="log_probabilities")]
    if m.loss == "BCELoss" and (m.output_min < 0 or m.output_max > 1):
        evidence = {"loss": m.loss, "output_min": m.output_min, "output_max": m.output_max}
        return [rule.finding(evidence, variant="bce")]
    if m.loss == "NLLLoss" and not m.rows_are_log_probabilities and not _log_probabilities_on_wrong_axis(m):
        evidence = {
            "loss": m.loss,
            "output_min": m.output_min,
            "output_max": m.output_max,
            "probabilities": m.rows_are_probabilities,
            "loss_value": m.loss_value,
        }
        words = {
            "at_init": f" (loss at initialization {m.loss_value:.4g})" if m.loss_value is not None else "",
            "head": _head(m),
        }
        return [rule.finding(evidence, words, variant="nll_probabilities" if m.rows_are_probabilities else None)]
    return []


def judge_broadcast(m: LossMeasurement) -> list[Finding]:
    """RD304: an element-wise loss on outputs and targets of different shapes."""
    if m.family not in ("regression", "binary") or m.output_shape == m.target_shape:
        return []
    broadcast = _broadcast_shape(m.output_shape, m.target_shape)
    if broadcast is None or m.family == "binary":
        detail = "the loss requires equal shapes and raises"
    else:
        detail = (
            f"they broadcast silently to {list(broadcast)}: every output is compared with every target of "
            "the batch, so the loss trains the model to predict the batch mean"
        )
    evidence = {
        "loss": m.loss,
        "output_shape": list(m.output_shape),
        "target_shape": list(m.target_shape),
        "broadcast_shape": list(broadcast) if broadcast is not None else None,
    }
    words = {"detail": detail, "squeeze": _squeeze_hint(m.output_shape, m.target_shape)}
    return [get_rule("RD304").finding(evidence, words, explains=("RD307", "RD503"))]


def judge_class_axis(m: LossMeasurement, balance_tolerance: float) -> list[Finding]:
    """RD305: a per-timestep class-index loss reads classes from an axis other than the one the last
    layer produces. The gradient of the loss w.r.t. its class scores sums to zero along the class axis,
    so a non-zero sum along the head's feature axis means the two axes differ."""
    if m.family != "index" or len(m.output_shape) < 3:
        return []
    shape_mismatch = m.loss_error is not None and tuple(m.output_shape[:-1]) == tuple(m.target_shape)
    gradient_says = m.class_axis_gradient_balance is not None and m.class_axis_gradient_balance > balance_tolerance
    if not (shape_mismatch or gradient_says or _log_probabilities_on_wrong_axis(m)):
        return []
    n, second, last = m.output_shape[0], m.output_shape[1], m.output_shape[-1]
    silent = m.loss_error is None
    evidence = {
        "loss": m.loss,
        "output_shape": list(m.output_shape),
        "target_shape": list(m.target_shape),
        "gradient_imbalance": m.class_axis_gradient_balance,
        "head": m.head_name,
        "silent": silent,
        "batch": n,
    }
    words: dict[str, object] = {"steps": second, "classes": last, "error": m.loss_error}
    if silent:
        words["why"] = (
            f"Because time steps and classes are both {second}, nothing raises"
            if second == last
            else "Nothing raises (the loss takes the shapes)"
        )
        words["measured"] = (
            f"the loss's gradient does not sum to zero along the head's output axis (imbalance "
            f"{m.class_axis_gradient_balance:.2g})"
            if gradient_says
            else "the outputs are log-probabilities along the last axis, not along axis 1"
        )
    return [get_rule("RD305").finding(evidence, words, variant=None if silent else "raises")]


def judge_padding_scored(m: LossMeasurement, max_share: float) -> list[Finding]:
    """RD306: targets at padded positions that the loss does not ignore."""
    if m.padded_positions == 0 or m.padded_scored == 0:
        return []
    if m.padded_scored / max(m.padded_positions, 1) <= max_share:
        return []
    evidence = {
        "padded_positions": m.padded_positions,
        "padded_scored": m.padded_scored,
        "ignore_index": m.ignore_index,
        "loss": m.loss,
    }
    ignore = f"ignore_index={m.ignore_index}" if m.ignore_index is not None else "no ignore_index"
    return [get_rule("RD306").finding(evidence, {"ignore": ignore})]


def judge_initial_loss(m: LossMeasurement, ratio: float, margin: float, regression_ratio: float) -> list[Finding]:
    """RD307: loss at initialization far above chance level.

    Chance is ln C for a class-index loss (a uniform prediction), ln 2 per label for a binary loss: the
    loss must exceed ``ratio`` times it and by at least ``margin`` nats. For regression, chance is the
    loss of predicting the targets' mean (their variance for squared error, their std for absolute
    error), and the loss must exceed ``regression_ratio`` times it.
    """
    if m.loss_value is None or not math.isfinite(m.loss_value):
        return []
    chance, basis = _chance(m)
    if chance is None or chance <= 0:
        return []
    if m.family == "regression":
        if m.loss_value < chance * regression_ratio:
            return []
    elif m.loss_value < chance * ratio or m.loss_value - chance < margin:
        return []
    evidence = {"initial_loss": m.loss_value, "chance_loss": chance, "basis": basis, "ratio": m.loss_value / chance}
    variant = "regression" if m.family == "regression" else None
    return [get_rule("RD307").finding(evidence, {"head": _head(m)}, variant=variant)]


def judge_multilabel_on_single_label(m: LossMeasurement) -> list[Finding]:
    """RD308: BCE on rows that are one-hot over mutually exclusive classes."""
    if m.family != "binary" or not m.target_one_hot or len(m.target_shape) < 2 or m.target_shape[-1] < 2:
        return []
    evidence = {"loss": m.loss, "classes": m.target_shape[-1], "target_shape": list(m.target_shape)}
    return [get_rule("RD308").finding(evidence)]


def _head(m: LossMeasurement) -> str:
    """The user's name for the last layer, as the fix should spell it."""
    return m.head_name or "head"


def _chance(m: LossMeasurement) -> tuple[float | None, str]:
    if m.family == "index" and m.num_classes and m.num_classes > 1:
        return math.log(m.num_classes), f"ln {m.num_classes}, a uniform prediction"
    if m.family == "binary":
        return math.log(2), "ln 2 per label"
    if m.family == "regression" and m.target_variance is not None and m.target_variance > 0:
        if m.loss == "MSELoss":
            return m.target_variance, "the target variance: the error of always predicting the mean"
        if m.loss in ("L1Loss", "SmoothL1Loss", "HuberLoss"):
            return math.sqrt(m.target_variance), "the target standard deviation"
    return None, ""


def _log_probabilities_on_wrong_axis(m: LossMeasurement) -> bool:
    return len(m.output_shape) >= 3 and m.last_axis_log_probabilities and not m.rows_are_log_probabilities


def _values(values: list[float]) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:8])
    return "{" + shown + (", ..." if len(values) > 8 else "") + "}"


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    result = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + a), reversed((1,) * (len(a) - len(b)) + b), strict=True):
        if x != y and 1 not in (x, y):
            return None
        result.append(max(x, y))
    return tuple(reversed(result))


def _squeeze_hint(output_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> str:
    if len(output_shape) == len(target_shape) + 1 and output_shape[-1] == 1:
        return "outputs = model(x).squeeze(-1)          # (N, 1) -> (N,)\nloss = loss_fn(outputs, targets)"
    if len(target_shape) == len(output_shape) + 1 and target_shape[-1] == 1:
        return "loss = loss_fn(outputs, targets.squeeze(-1))   # targets (N, 1) -> (N,)"
    return "assert outputs.shape == targets.shape, (outputs.shape, targets.shape)"


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD301",
        checks=("loss",),
        message=(
            "{loss} is a regression loss, but {cause} (values {values}). Squared error on class ids treats class 2 "
            "as 'twice' class 1 and gives weak, saturating gradients for probabilities, so accuracy plateaus."
        ),
        remedy=(
            "Use a classification loss on raw scores:\n\n```python\nloss_fn = nn.CrossEntropyLoss()"
            "          # outputs (N, C) logits, targets (N,) int64 ids\n"
            "# for 0/1 labels: nn.BCEWithLogitsLoss() with float targets of the outputs' shape\n```"
        ),
        title="regression loss on class-like targets",
        severity=Severity.ERROR,
        what=(
            "When the loss is a regression loss (MSELoss, L1Loss, SmoothL1Loss, HuberLoss), looks at the "
            "targets and reports when they are whole numbers drawn from a small set of values, that is, "
            "class ids."
        ),
        why=(
            "Regressing on class ids imposes an order and a distance between classes that do not exist "
            "(class 2 becomes halfway between 1 and 3), and the optimum is the average id, which rounds to a "
            "middle class. For 0/1 targets behind a sigmoid, the squared error also gives almost no gradient "
            "when the model is confidently wrong."
        ),
        symptoms=(
            "Predictions bunch around the mean label (0.5, or a middle class id); rounded accuracy stays "
            "near the majority share; loss plateaus."
        ),
        fix=(
            "Output one score per class and use CrossEntropyLoss with long targets, or BCEWithLogitsLoss on "
            "a single logit for a binary task."
        ),
        before=snippet(
            """
            self.head = nn.Linear(hidden_size, 1)
            loss_fn = nn.MSELoss()
            loss = loss_fn(model(x).squeeze(-1), y.float())     # y in {0, 1, 2, 3, 4}
            """
        ),
        after=snippet(
            """
            self.head = nn.Linear(hidden_size, 5)               # one logit per class
            loss_fn = nn.CrossEntropyLoss()
            loss = loss_fn(model(x), y.long())
            """
        ),
        explains=("RD307", "RD503", "RD504"),
    ),
    Rule(
        code="RD302",
        checks=("loss",),
        message=(
            "{loss} applies log-softmax itself, but the model already outputs rows that are already probabilities "
            "(each in [0, 1], summing to 1) (last operation: {op}). The softmax is applied twice: gradients shrink, "
            "and the loss cannot go below a floor{floor} even when every prediction is right."
        ),
        remedy=(
            "Return raw scores from forward and let the loss apply the softmax; apply it yourself only when you "
            "need probabilities at inference:\n\n```python\n"
            "return self.{head}(h)            # not torch.softmax(self.{head}(h), ...)\n"
            "probs = torch.softmax(model(x), dim=-1)  # at inference only\n```"
        ),
        variants={
            "sigmoid": Wording(
                message=(
                    "{loss} applies a sigmoid itself, but the model already outputs values already squashed into "
                    "[{output_min:.3g}, {output_max:.3g}] (last operation: {op}). The sigmoid is applied twice: "
                    "gradients shrink, and the loss cannot go below a floor{floor} even when every prediction is "
                    "right."
                ),
                remedy=(
                    "Return raw scores from forward and let the loss apply the sigmoid; apply it yourself only when "
                    "you need probabilities at inference:\n\n```python\n"
                    "return self.{head}(h)            # not torch.sigmoid(self.{head}(h), ...)\n"
                    "probs = torch.sigmoid(model(x))  # at inference only\n```"
                ),
            ),
        },
        title="probabilities fed to a loss that expects logits",
        severity=Severity.ERROR,
        what=(
            "For losses that apply their own softmax or sigmoid, checks one batch's outputs: for "
            "CrossEntropyLoss, rows already in [0, 1] that sum to 1 along its class axis; for BCEWithLogitsLoss, "
            "outputs produced by a sigmoid (strictly inside (0, 1))."
        ),
        why=(
            "The loss normalizes again values that are already squashed into [0, 1], so its scores can "
            "differ by at most 1 and its distribution stays close to uniform. The loss then has a high floor "
            "it cannot go below, and the extra squashing shrinks every gradient, so learning is slow and "
            "soon stalls."
        ),
        symptoms=(
            "Loss falls a little and then plateaus well above zero (for two classes it cannot go below about "
            "0.31 = ln(1 + 1/e)); accuracy may improve while the loss hardly does."
        ),
        fix=(
            "Remove the final Softmax or Sigmoid from the model and give the loss raw logits; apply softmax "
            "only where you need probabilities, at inference."
        ),
        before=snippet(
            """
            self.head = nn.Sequential(nn.Linear(128, num_classes), nn.Softmax(dim=-1))
            loss_fn = nn.CrossEntropyLoss()
            """
        ),
        after=snippet(
            """
            self.head = nn.Linear(128, num_classes)
            loss_fn = nn.CrossEntropyLoss()
            probs = model(x).softmax(dim=-1)        # only when probabilities are needed
            """
        ),
        explains=("RD307", "RD402", "RD503", "RD505"),
    ),
    Rule(
        code="RD303",
        crashes=(CrashSignature(r"all elements of (input|target) should be between 0 and 1", ("loss",)),),
        checks=("loss",),
        message=(
            "NLLLoss expects log-probabilities (log_softmax outputs), but they are raw scores, so the loss is "
            "unbounded below and rewards ever larger scores{at_init}."
        ),
        remedy=(
            "Either end the model with log_softmax, or keep raw scores and use CrossEntropyLoss:\n\n"
            "```python\nreturn torch.log_softmax(self.head(h), dim=-1)   # with nn.NLLLoss()\n"
            "# or: return self.{head}(h) with nn.CrossEntropyLoss()\n```"
        ),
        variants={
            "nll_probabilities": Wording(
                message=(
                    "NLLLoss expects log-probabilities (log_softmax outputs), but they are probabilities (softmax), "
                    "so the loss is minus a probability: it goes negative and stops near -1 without learning the "
                    "log-likelihood{at_init}."
                ),
            ),
            "log_probabilities": Wording(
                message=(
                    "{loss} expects log-probabilities over the classes (log_softmax on the last axis of the {shape} "
                    "outputs), but the outputs are {what}: their logsumexp over that axis is not 0 (outputs span "
                    "{output_min:.3g} to {output_max:.3g}). The loss is then not a log-likelihood: it can go "
                    "negative and its gradients do not train a distribution."
                ),
                remedy=(
                    "End the model with log_softmax over the class axis:\n\n```python\n"
                    "return torch.log_softmax(self.{head}(h), dim=-1)\n```"
                ),
            ),
            "bce": Wording(
                message=(
                    "BCELoss expects probabilities in [0, 1], but the outputs span {output_min:.3g} to "
                    "{output_max:.3g}: they are raw scores. BCELoss raises on them (or, after clamping, trains on "
                    "nonsense)."
                ),
                remedy=(
                    "Use the loss that takes raw scores (it is also numerically stabler):\n\n"
                    "```python\nloss_fn = nn.BCEWithLogitsLoss()\n```"
                ),
            ),
            "crash": Wording(
                message=(
                    "The {stage_words} raised an error: the loss expects probabilities but got unbounded scores. "
                    "{error}"
                ),
                remedy="Use nn.BCEWithLogitsLoss on raw scores instead of nn.BCELoss.",
            ),
        },
        title="raw scores fed to a loss that expects probabilities or log-probabilities",
        severity=Severity.ERROR,
        what=(
            "For NLLLoss, checks that the outputs are log-probabilities (a logsumexp of about 0 along the class "
            "axis); for BCELoss, that they lie in [0, 1]. Both are measured before the loss is called, so the "
            "finding carries the output range even when BCELoss then raises."
        ),
        why=(
            "NLLLoss only picks minus the output at the target class; it does no normalization of its own. "
            "On raw scores it is minimised by making the target's score ever larger, with no lower bound, "
            "and the other classes are never pushed down. BCELoss on raw scores raises or takes the log of "
            "values outside (0, 1)."
        ),
        symptoms=(
            'Loss goes negative and keeps falling toward -inf while accuracy does not follow; or "all '
            'elements of input should be between 0 and 1" with BCELoss.'
        ),
        fix=(
            "Use CrossEntropyLoss on raw logits (it is log_softmax plus NLLLoss), or add log_softmax before "
            "NLLLoss; use BCEWithLogitsLoss instead of BCELoss on raw scores."
        ),
        before=snippet(
            """
            logits = self.head(h)
            loss = nn.NLLLoss()(logits, y)               # NLLLoss expects log-probabilities
            """
        ),
        after=snippet(
            """
            logits = self.head(h)
            loss = nn.CrossEntropyLoss()(logits, y)      # log_softmax + NLLLoss in one
            """
        ),
        explains=("RD307", "RD503"),
    ),
    Rule(
        code="RD304",
        crashes=(
            CrashSignature(
                (
                    r"target size .* must be the same as input size|must match the size of tensor|size mismatch"
                    r"|expected input batch_size"
                ),
                ("loss",),
            ),
        ),
        checks=("loss",),
        message=("{loss} gets outputs of shape {output_shape} and targets of shape {target_shape}: {detail}."),
        remedy=("Make the shapes equal before the loss:\n\n```python\n{squeeze}\n```"),
        variants={
            "crash": Wording(
                message="The {stage_words} raised an error: the outputs and targets have different shapes. {error}",
                remedy="Make outputs and targets the same shape, e.g. `outputs.squeeze(-1)` for one output per sample.",
            ),
        },
        title="output and target shapes differ (silent broadcasting)",
        severity=Severity.ERROR,
        what=(
            "Compares the shapes of the outputs and the targets as they enter the loss, and for element-wise "
            "losses reports shapes that differ but broadcast, such as (batch, 1) against (batch,)."
        ),
        why=(
            "Element-wise losses broadcast their inputs: (batch, 1) against (batch,) becomes a (batch, "
            "batch) table in which every prediction is compared with every target. The best the model can do "
            "is predict the batch mean for all samples, so it learns nothing sample-specific. MSELoss and "
            "L1Loss only issue a warning."
        ),
        symptoms=(
            "Loss stalls at about the variance of the targets and the model predicts nearly the same value "
            "for every sample; a UserWarning says the target size differs from the input size."
        ),
        fix=("Make both shapes identical before the loss: squeeze the output's trailing axis or unsqueeze the target."),
        before=snippet(
            """
            pred = model(x)                     # (batch, 1)
            loss = nn.MSELoss()(pred, y)        # y: (batch,) -> broadcast to (batch, batch)
            """
        ),
        after=snippet(
            """
            pred = model(x).squeeze(-1)         # (batch,)
            loss = nn.MSELoss()(pred, y)
            """
        ),
        explains=("RD307", "RD503", "RD504"),
    ),
    Rule(
        code="RD305",
        crashes=(CrashSignature(r"expected target size", ("loss",)),),
        checks=("loss",),
        message=(
            "{loss} reads classes from axis 1 of its input, but the outputs are {output_shape} (batch, time, classes) "
            "with targets {target_shape}: the loss treats the {steps} time steps as classes and the {classes} class "
            "scores as time steps. {why}: the model trains on scrambled targets. (Measured: {measured}.)"
        ),
        remedy=(
            "Move the class axis to position 1 (or flatten time into the batch):\n\n```python\n"
            "loss = loss_fn(logits.permute(0, 2, 1), targets)        # (N, C, T) vs (N, T)\n"
            "# or: loss_fn(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))\n```"
        ),
        variants={
            "raises": Wording(
                message=(
                    "{loss} reads classes from axis 1 of its input, but the outputs are {output_shape} (batch, time, "
                    "classes) with targets {target_shape}: the loss treats the {steps} time steps as classes and the "
                    "{classes} class scores as time steps. The loss raises: {error}"
                ),
            ),
            "crash": Wording(
                message=(
                    "The {stage_words} raised an error: the loss reads the class scores from the wrong axis. {error}"
                ),
                remedy=(
                    "Put the class axis second for per-timestep losses: `loss_fn(logits.permute(0, 2, 1), targets)`."
                ),
            ),
        },
        title="class axis misplaced for a per-timestep loss",
        severity=Severity.ERROR,
        what=(
            "Uses the fact that the gradient of a class-index loss with respect to its class scores sums to zero "
            "along the axis it treats as classes: it backpropagates the loss to the output of the model's last "
            "layer and reports when the gradient does not sum to zero along that layer's output axis. When time "
            "steps and classes differ in number, the loss raises and the (N, T, C) shapes are reported instead."
        ),
        why=(
            "CrossEntropyLoss always takes dimension 1 as the class axis ((batch, classes, time...)). Given "
            "(batch, time, classes) outputs, it applies the softmax over time steps, so the model learns to "
            "spread probability across positions instead of choosing a class. When the shapes happen to line "
            "up (as many steps as classes, soft targets, or targets reshaped to fit) nothing raises."
        ),
        symptoms=(
            'Loss falls a little but per-step accuracy stays near chance; or an error such as "Expected '
            'target size [32, 20], got [32, 50]" once the shapes stop lining up.'
        ),
        fix=(
            "Move the class axis to dimension 1 with permute(0, 2, 1) before the loss, or flatten outputs to "
            "(batch * time, classes) and targets to (batch * time,)."
        ),
        before=snippet(
            """
            logits = model(x)                                   # (batch, time, num_classes)
            loss = nn.CrossEntropyLoss()(logits, y)             # y: (batch, time)
            """
        ),
        after=snippet(
            """
            logits = model(x)                                   # (batch, time, num_classes)
            loss = nn.CrossEntropyLoss()(logits.permute(0, 2, 1), y)
            # or: nn.CrossEntropyLoss()(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            """
        ),
        explains=("RD307", "RD503"),
    ),
    Rule(
        code="RD306",
        checks=("loss",),
        message=(
            "{padded_scored} of {padded_positions} padded time steps have real targets that {loss} ({ignore}) scores. "
            "The model is trained to predict padding, which inflates accuracy and pulls the hidden state toward "
            "the padding pattern."
        ),
        remedy=(
            "Mark padded targets with the loss's ignore_index (or mask the per-step loss):\n\n```python\n"
            "mask = torch.arange(T)[None, :] >= lengths[:, None]\ntargets[mask] = -100\n"
            "loss_fn = nn.CrossEntropyLoss(ignore_index=-100)\n```"
        ),
        title="padding positions counted by the loss",
        severity=Severity.WARNING,
        what=(
            "For per-timestep targets in a batch with known lengths (explicit lengths or padding tokens), counts "
            "the padded positions whose targets the loss scores, i.e. that are not equal to its ignore_index."
        ),
        why=(
            "Padded positions become training targets: the model learns to emit the padding label (often 0, "
            "also a real class) at the ends of sequences, and the averaged loss is diluted by easy fake "
            "positions. The more padding a batch holds, the more of the training signal is spent on it."
        ),
        symptoms=(
            "The model over-predicts the padding class or class 0; per-token accuracy looks high because "
            "padding is easy to predict, while accuracy on real tokens stalls."
        ),
        fix=(
            "Fill padded target positions with the loss's ignore_index (-100 by default for "
            "CrossEntropyLoss), or compute the loss with reduction='none' and average it over the valid "
            "positions only."
        ),
        before=snippet(
            """
            y = pad_sequence(tag_seqs, batch_first=True, padding_value=0)      # 0 is also a real tag
            loss = nn.CrossEntropyLoss()(logits.transpose(1, 2), y)
            """
        ),
        after=snippet(
            """
            y = pad_sequence(tag_seqs, batch_first=True, padding_value=-100)
            loss = nn.CrossEntropyLoss(ignore_index=-100)(logits.transpose(1, 2), y)
            """
        ),
    ),
    Rule(
        code="RD307",
        checks=("loss",),
        message=(
            "The loss at initialization is {initial_loss:.4g}, {ratio:.1f}x the chance level of {chance_loss:.4g} "
            "({basis}). The first updates go into shrinking oversized outputs instead of learning the task, and the "
            "large early gradients can destabilize training."
        ),
        remedy=(
            "Bring the logits to a small scale at initialization: normalize the inputs and start the output layer "
            "small:\n\n```python\nnn.init.zeros_(model.{head}.bias)\nnn.init.normal_(model.{head}.weight, std=0.01)"
            "\n```"
        ),
        variants={
            "regression": Wording(
                remedy=(
                    "The model starts far from the targets' scale: standardize the targets (and invert the scaling "
                    "at prediction time):\n\n```python\ny_mean, y_std = train_y.mean(), train_y.std()\n"
                    "loss = loss_fn(model(x), (y - y_mean) / y_std)\n```"
                ),
            ),
        },
        title="loss at initialization far from chance level",
        severity=Severity.WARNING,
        what=(
            "Computes the loss of the model as given, before any training step, on one sampled batch and compares"
            " it with chance: ln(C) for C-class cross-entropy (0.693 for two classes), ln 2 per label for binary "
            "losses, the target variance for MSELoss (the loss of always predicting the mean)."
        ),
        why=(
            "A freshly initialized classifier should be about uniform. A much higher starting loss means "
            "confident, wrong outputs (large output weights or bias, unscaled inputs): the first steps are "
            "spent undoing the scale, with large gradients that can saturate units or diverge. A loss well "
            "below chance before any training suggests the target leaks into the input or the loss is "
            "computed wrongly."
        ),
        symptoms=(
            "A first loss such as 25 for a 10-class problem (chance is 2.30); a hockey-stick loss curve; "
            "early instability or nan."
        ),
        fix=(
            "Initialize the output layer small, with zero bias or the log of the class priors, and normalize "
            "the inputs; if the loss starts below chance, look for label leakage."
        ),
        before=snippet(
            """
            self.head = nn.Linear(256, num_classes)
            nn.init.normal_(self.head.weight, std=1.0)      # large logits before any step
            """
        ),
        after=snippet(
            """
            self.head = nn.Linear(256, num_classes)
            nn.init.normal_(self.head.weight, std=0.01)
            nn.init.zeros_(self.head.bias)
            """
        ),
    ),
    Rule(
        code="RD308",
        checks=("loss",),
        message=(
            "{loss} scores each of the {classes} outputs as an independent yes/no label, but every target row is "
            "one-hot: exactly one class is true. The outputs are not pushed to compete, so predictions may mark "
            "several classes or none."
        ),
        remedy=(
            "Use a single-label loss on class ids:\n\n```python\nloss_fn = nn.CrossEntropyLoss()\n"
            "loss = loss_fn(logits, targets.argmax(dim=1))\n```"
        ),
        title="multi-label loss on single-label one-hot targets",
        severity=Severity.ERROR,
        what=(
            "When the loss is a multi-label one (BCELoss, BCEWithLogitsLoss, MultiLabelSoftMarginLoss) over "
            "several outputs, checks whether every target row holds exactly one 1, which makes the task "
            "single-label."
        ),
        why=(
            "A multi-label loss treats each class as an independent yes/no question, so the classes do not "
            'compete. With C classes, C - 1 of the answers in each row are "no", and predicting "no" '
            "everywhere already gives a low loss. The outputs are not a distribution over classes, so the "
            "argmax is poorly trained and the probabilities do not sum to one."
        ),
        symptoms=(
            "Loss drops quickly to a small value while accuracy stays low; all sigmoid outputs are small; "
            "predicted probabilities do not sum to 1."
        ),
        fix=(
            "Use CrossEntropyLoss with class ids (y_onehot.argmax(dim=1)); keep BCE losses for targets where "
            "several classes can be true at once."
        ),
        before=snippet(
            """
            y_onehot = F.one_hot(y, num_classes).float()
            loss = nn.BCEWithLogitsLoss()(logits, y_onehot)
            """
        ),
        after=snippet(
            """
            loss = nn.CrossEntropyLoss()(logits, y)     # y: class ids, shape (batch,)
            """
        ),
        explains=("RD307", "RD503"),
    ),
)

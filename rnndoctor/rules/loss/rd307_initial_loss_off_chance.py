"""RD307: the loss at initialization is far above chance level."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.loss import LossMeasurement

RULE = Rule(
    code="RD307",
    options=(
        Option(
            "initial_loss_ratio",
            3.0,
            "RD307: classification loss at init above this many times ln C (or ln 2)...",
            meaning="A classification loss at initialization above this many times chance (ln C, or ln 2 per label)...",
            guards=("RD307",),
        ),
        Option(
            "initial_loss_margin",
            1.0,
            "RD307: ...and at least this many nats above it",
            meaning="...and at least this many nats above it.",
            guards=("RD307",),
        ),
        Option(
            "regression_initial_ratio",
            10.0,
            "RD307: regression loss at init above this many times the target variance",
            meaning=(
                "A regression loss at initialization above this many times the loss of predicting the targets' mean."
            ),
            guards=("RD307",),
        ),
    ),
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
)


@judges(RULE, LossMeasurement, alone=True)
def initial_loss(m: LossMeasurement, options: Mapping[str, Any]) -> list[Finding]:
    """Loss at initialization far above chance level, judged only when no other loss rule found anything
    (a wrong loss or target explains it).

    Chance is ln C for a class-index loss (a uniform prediction), ln 2 per label for a binary loss: the
    loss must exceed ``initial_loss_ratio`` times it and by at least ``initial_loss_margin`` nats. For
    regression, chance is the loss of predicting the targets' mean (their variance for squared error, their
    std for absolute error), and the loss must exceed ``regression_initial_ratio`` times it.
    """
    ratio, margin = float(options["initial_loss_ratio"]), float(options["initial_loss_margin"])
    regression_ratio = float(options["regression_initial_ratio"])
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
    return [RULE.finding(evidence, {"head": m.head}, variant=variant)]


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

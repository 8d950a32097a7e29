"""RD110: training and validation targets come from different distributions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.data import LabelShift, RegressionShift

RULE = Rule(
    code="RD110",
    options=(
        Option(
            "shift_tvd",
            0.15,
            "RD110: total-variation distance between train and val label distributions",
            meaning=(
                "Total-variation distance between the train and validation label distributions above which they are "
                "called different."
            ),
            guards=("RD110",),
        ),
        Option(
            "shift_p_value",
            0.001,
            "RD110: and no more than this share of train/val splits of the pooled samples differs as much",
            meaning=(
                "The difference must also be beyond sampling noise: at most this share of random splits of the pooled"
                " train and validation samples may differ as much (a permutation test)."
            ),
            guards=("RD110",),
            notes=(
                "(a fixed TVD alone fired on 16 sampled batches of a healthy LM; same-stream splits sit at p > 0.05)",
            ),
        ),
        Option(
            "regression_shift_smd",
            0.5,
            "RD110: standardized mean difference of regression targets",
            meaning=(
                "For regression targets: the standardized mean difference between train and validation targets above "
                "which they are called different."
            ),
            guards=("RD110",),
        ),
    ),
    checks=("labels",),
    message=(
        "The label distributions differ by a total-variation distance of {total_variation:.2f}, more than two "
        "samples of one stream differ (p = {p_value:.1e}). The largest gap is class {gap_class}: "
        "{gap_train:.1%} of training targets vs {gap_val:.1%} of validation targets.{only_val} Validation "
        "scores will not reflect how the model does on the training distribution."
    ),
    remedy=(
        "Split the data with stratification so both sets hold the same class mix:\n\n"
        "```python\nfrom sklearn.model_selection import train_test_split\n"
        "train_idx, val_idx = train_test_split(indices, test_size=0.2, stratify=labels, random_state=0)\n```"
    ),
    variants={
        "regression": Wording(
            message=(
                "Regression targets average {train_mean:.4g} (std {train_std:.4g}) in training but "
                "{val_mean:.4g} (std {val_std:.4g}) in validation: a standardized difference of {smd:.2f}."
            ),
            remedy=(
                "Make sure both splits come from the same period or population, or shuffle before splitting; "
                "for time series, expect this shift and normalize with training statistics."
            ),
        )
    },
    title="train and validation label distributions differ",
    severity=Severity.WARNING,
    what=(
        "Compares the class frequencies of the sampled training and validation targets (total variation "
        "distance) and lists classes present in one split but missing from the other; for regression "
        "targets it compares the means of the two splits in units of standard deviation."
    ),
    why=(
        "Validation then measures a different problem from the one being trained, so its loss and "
        "accuracy misjudge progress, and early stopping or model selection pick the wrong model. The "
        "usual cause is a split by position in a file ordered by label or time instead of a shuffled or "
        "stratified one."
    ),
    symptoms=(
        "Validation accuracy is far from training accuracy from the first epoch on, not only late in "
        "training; validation loss stays high while training loss falls; a class shows up in validation "
        "that training never contained."
    ),
    fix=(
        "Shuffle before splitting, or split with stratification on the label; if the shift is real (the "
        "data you deploy on differs), measure it explicitly and reweight."
    ),
    before=snippet(
        """
        n_train = int(0.8 * len(ds))
        train_ds = Subset(ds, range(n_train))                 # the file is sorted by label
        val_ds = Subset(ds, range(n_train, len(ds)))
        """
    ),
    after=snippet(
        """
        from sklearn.model_selection import train_test_split

        idx = list(range(len(ds)))
        idx_train, idx_val = train_test_split(idx, test_size=0.2, stratify=labels, random_state=0)
        train_ds, val_ds = Subset(ds, idx_train), Subset(ds, idx_val)
        """
    ),
    explains=("RD601",),
)


@judges(RULE, LabelShift)
def label_shift(shift: LabelShift, options: Mapping[str, Any]) -> list[Finding]:
    """Train and validation class frequencies differ by a total-variation distance of at least ``shift_tvd``,
    and that difference is beyond sampling noise: the permutation test's p-value (else a chi-square
    homogeneity test's) at most ``shift_p_value``."""
    train, val, p_value = shift.train, shift.val, shift.p_value
    tvd_threshold, p_threshold = float(options["shift_tvd"]), float(options["shift_p_value"])
    classes = sorted(set(train.counts) | set(val.counts))
    if len(classes) < 2 or train.total == 0 or val.total == 0:
        return []
    p_train = [train.counts.get(c, 0) / train.total for c in classes]
    p_val = [val.counts.get(c, 0) / val.total for c in classes]
    tvd = 0.5 * sum(abs(a - b) for a, b in zip(p_train, p_val, strict=False))
    if p_value is None:
        statistic, dof = _chi_square_homogeneity(
            [train.counts.get(c, 0) for c in classes], [val.counts.get(c, 0) for c in classes]
        )
        p_value = chi_square_survival(statistic, dof)
    if tvd < tvd_threshold or p_value > p_threshold:
        return []
    biggest = max(range(len(classes)), key=lambda i: abs(p_train[i] - p_val[i]))
    only_val = [c for c in classes if train.counts.get(c, 0) == 0]
    evidence = {
        "total_variation": tvd,
        "p_value": p_value,
        "train_distribution": dict(zip(classes, p_train, strict=False)),
        "val_distribution": dict(zip(classes, p_val, strict=False)),
    }
    words = {
        "gap_class": classes[biggest],
        "gap_train": p_train[biggest],
        "gap_val": p_val[biggest],
        "only_val": f" Classes {only_val} appear in validation but not in the training sample." if only_val else "",
    }
    return [RULE.finding(evidence, words)]


@judges(RULE, RegressionShift)
def regression_shift(shift: RegressionShift, options: Mapping[str, Any]) -> list[Finding]:
    """For regression targets: a standardized mean difference of at least ``regression_shift_smd``."""
    train_mean, train_std, val_mean, val_std = shift.train_mean, shift.train_std, shift.val_mean, shift.val_std
    smd_threshold = float(options["regression_shift_smd"])
    pooled = math.sqrt((train_std**2 + val_std**2) / 2)
    if pooled == 0 or not math.isfinite(pooled):
        return []
    smd = abs(train_mean - val_mean) / pooled
    if smd < smd_threshold:
        return []
    evidence = {"train_mean": train_mean, "train_std": train_std, "val_mean": val_mean, "val_std": val_std, "smd": smd}
    return [RULE.finding(evidence, variant="regression")]


def _chi_square_homogeneity(a: list[int], b: list[int]) -> tuple[float, int]:
    total_a, total_b = sum(a), sum(b)
    total = total_a + total_b
    statistic = 0.0
    used = 0
    for x, y in zip(a, b, strict=False):
        column = x + y
        if column == 0:
            continue
        used += 1
        for observed, row_total in ((x, total_a), (y, total_b)):
            expected = row_total * column / total
            statistic += (observed - expected) ** 2 / expected
    return statistic, max(used - 1, 1)


def chi_square_survival(statistic: float, dof: int) -> float:
    """P(X >= statistic) for a chi-square variable, via the regularized upper incomplete gamma."""
    if statistic <= 0:
        return 1.0
    return _gamma_upper_regularized(dof / 2.0, statistic / 2.0)


def _gamma_upper_regularized(a: float, x: float) -> float:
    if x < a + 1:
        term = 1.0 / a
        total = term
        n = a
        for _ in range(500):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        lower = total * math.exp(-x + a * math.log(x) - math.lgamma(a))
        return max(0.0, 1.0 - lower)
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)

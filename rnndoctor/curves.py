"""Diagnose a training history: per-epoch train/validation loss (and accuracy) curves.

Used by `rnndoctor curves LOG.csv` on logs users already have (Lightning's CSVLogger ``metrics.csv``, a
Keras ``CSVLogger`` history, any CSV with such columns) and by the ``overfitting`` check on its own short
run. Reading is lenient about column names; judging is pure.
"""

from __future__ import annotations

import csv
import itertools
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnndoctor.errors import SetupError
from rnndoctor.findings import CheckResult, CheckStatus, FailOn, Finding, Report, Severity, Timing
from rnndoctor.rules import Rule, Wording, get_rule, snippet

COLUMNS = {
    "epoch": ("epoch", "epochs"),
    "train_loss": ("train_loss_epoch", "train_loss", "loss", "training_loss", "train/loss", "trn_loss"),
    "val_loss": ("val_loss_epoch", "val_loss", "validation_loss", "valid_loss", "val/loss", "eval_loss"),
    "train_acc": ("train_acc_epoch", "train_acc", "train_accuracy", "accuracy", "acc", "train/acc"),
    "val_acc": ("val_acc_epoch", "val_acc", "val_accuracy", "valid_acc", "val/acc", "eval_accuracy"),
}


@dataclass
class History:
    epochs: list[float] = field(default_factory=list)
    train_loss: list[float | None] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    train_acc: list[float | None] = field(default_factory=list)
    val_acc: list[float | None] = field(default_factory=list)
    source: str = ""


@dataclass
class CurveThresholds:
    overfit_rise: float = 0.1
    """RD601: validation loss this far above its minimum (relative) while training loss still falls."""
    accuracy_gap: float = 0.15
    """RD601: train accuracy above validation accuracy by this much at the end."""
    flat_change: float = 0.01
    """RD505: relative change of the training loss over the whole history below this."""
    divergence_rise: float = 0.5
    """RD502: final training loss this far above its minimum (relative)."""
    oscillation_share: float = 0.6
    """RD502: share of epoch-to-epoch changes that reverse direction..."""
    oscillation_amplitude: float = 0.1
    """...with a median relative swing above this."""


def read_history(path: str | Path) -> History:
    """Per-epoch metrics from a CSV; rows of the same epoch (Lightning logs train and val separately)
    are merged, taking the last value logged for each metric."""
    display = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise SetupError(f"cannot read the training log: {exc.strerror or exc}", file=display) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SetupError(f"not a readable CSV file: {exc}", file=display) from None
    if not rows:
        raise SetupError("the training log has no rows", file=display)
    header = [h.strip() for h in rows[0]]
    lowered = {h.lower(): h for h in header}
    chosen = {key: next((lowered[c] for c in candidates if c in lowered), None) for key, candidates in COLUMNS.items()}
    if chosen["train_loss"] is None and chosen["val_loss"] is None:
        raise SetupError(
            f"no loss column found (looked for {', '.join(COLUMNS['train_loss'] + COLUMNS['val_loss'])}; "
            f"the file has {', '.join(header)})",
            file=display,
        )
    grouped: dict[float, dict[str, float]] = defaultdict(dict)
    for index, row in enumerate(rows):
        epoch_text = row.get(chosen["epoch"]) if chosen["epoch"] else None
        epoch = _number(epoch_text) if epoch_text not in (None, "") else float(index)
        if epoch is None:
            continue
        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            column = chosen[key]
            value = _number(row.get(column)) if column else None
            if value is not None:
                grouped[epoch][key] = value
    epochs = sorted(grouped)
    return History(
        epochs=epochs,
        train_loss=[grouped[e].get("train_loss") for e in epochs],
        val_loss=[grouped[e].get("val_loss") for e in epochs],
        train_acc=[grouped[e].get("train_acc") for e in epochs],
        val_acc=[grouped[e].get("val_acc") for e in epochs],
        source=display,
    )


def _number(text: Any) -> float | None:
    if text is None:
        return None
    try:
        return float(str(text).strip())
    except ValueError:
        return None


def _present(values: list[float | None]) -> list[tuple[int, float]]:
    return [(i, v) for i, v in enumerate(values) if v is not None]


def judge_history(history: History, limits: CurveThresholds, check: str = "curves") -> list[Finding]:
    """Overfitting (RD601), a flat loss (RD505), divergence and oscillation (RD502), NaN (RD401)."""
    findings: list[Finding] = []
    train = _present(history.train_loss)
    val = _present(history.val_loss)
    non_finite = [history.epochs[i] for i, v in train + val if not math.isfinite(v)]
    if non_finite:
        findings.append(
            get_rule("RD401").verdict(
                {"first_epoch": non_finite[0], "epochs_affected": len(non_finite)}, variant="curve", check=check
            )
        )
        train = [(i, v) for i, v in train if math.isfinite(v)]
        val = [(i, v) for i, v in val if math.isfinite(v)]
    findings.extend(_overfitting(history, train, val, limits, check))
    if len(train) >= 3:
        findings.extend(_train_dynamics(history, train, limits, check))
    return findings


def _overfitting(
    history: History, train: list[tuple[int, float]], val: list[tuple[int, float]], limits: CurveThresholds, check: str
) -> list[Finding]:
    if len(val) < 3:
        return []
    best_index, best_val = min(val, key=lambda iv: iv[1])
    last_index, last_val = val[-1]
    rise = (last_val - best_val) / max(abs(best_val), 1e-12)
    train_at_best = next((v for i, v in train if i >= best_index), None)
    train_last = train[-1][1] if train else None
    train_falling = train_at_best is not None and train_last is not None and train_last < train_at_best
    accuracy = _present(history.train_acc), _present(history.val_acc)
    gap = accuracy[0][-1][1] - accuracy[1][-1][1] if accuracy[0] and accuracy[1] else None
    above_train = train_last is not None and last_val > train_last
    loss_says = rise >= limits.overfit_rise and train_falling and last_index > best_index and above_train
    accuracy_says = gap is not None and gap >= limits.accuracy_gap
    if not (loss_says or accuracy_says):
        return []
    evidence = {
        "best_epoch": history.epochs[best_index],
        "best_val_loss": best_val,
        "last_val_loss": last_val,
        "val_rise": rise,
        "train_loss_at_best": train_at_best,
        "last_train_loss": train_last,
        "accuracy_gap": gap,
    }
    opening = (
        f"In a short run of {len(history.epochs)} epochs over the sampled training batches, validation"
        if history.source.startswith("short")
        else "Validation"
    )
    variant = None if loss_says else "accuracy_gap"
    return [get_rule("RD601").verdict(evidence, {"opening": opening}, variant=variant, check=check)]


def _train_dynamics(
    history: History, train: list[tuple[int, float]], limits: CurveThresholds, check: str
) -> list[Finding]:
    values = [v for _, v in train]
    first, last, lowest = values[0], values[-1], min(values)
    change = abs(first - last) / max(abs(first), 1e-12)
    findings = []
    if change < limits.flat_change and max(values) - lowest < limits.flat_change * max(abs(first), 1e-12):
        chance = next(
            (
                f" (ln {c} = {math.log(c):.3f}: chance level for {c} classes)"
                for c in range(2, 1001)
                if abs(math.log(c) - last) < 0.005
            ),
            "",
        )
        findings.append(
            get_rule("RD505").verdict(
                {"first_loss": first, "last_loss": last, "epochs": len(values), "relative_change": change},
                {"chance": chance},
                variant="curve",
                check=check,
            )
        )
        return findings
    rise = (last - lowest) / max(abs(lowest), 1e-12)
    deltas = [b - a for a, b in itertools.pairwise(values)]
    reversals = sum(1 for a, b in itertools.pairwise(deltas) if a * b < 0)
    share = reversals / max(len(deltas) - 1, 1)
    swings = sorted(abs(d) / max(abs(v), 1e-12) for d, v in zip(deltas, values, strict=False))
    swing = swings[len(swings) // 2] if swings else 0.0
    if rise >= limits.divergence_rise and values.index(lowest) < len(values) - 1:
        findings.append(
            get_rule("RD502").verdict(
                {"lowest_loss": lowest, "last_loss": last, "rise": rise}, variant="curve_diverging", check=check
            )
        )
    elif len(deltas) >= 4 and share >= limits.oscillation_share and swing >= limits.oscillation_amplitude:
        findings.append(
            get_rule("RD502").verdict(
                {"reversal_share": share, "median_swing": swing, "epochs": len(values)},
                variant="curve_oscillating",
                severity=Severity.WARNING,
                check=check,
            )
        )
    return findings


def diagnose_history(path: str | Path, fail_on: FailOn = FailOn.ERROR, limits: CurveThresholds | None = None) -> Report:
    """The report of `rnndoctor curves`: findings from one training log."""
    from rnndoctor.engine import rank
    from rnndoctor.render.plots import plot

    started = time.perf_counter()
    history = read_history(path)
    findings = judge_history(history, limits or CurveThresholds())
    plots = [
        plot(
            f"{name.replace('_', ' ')} per epoch",
            [history.epochs[i] for i, _ in points],
            [v for _, v in points],
            x_label="epoch",
            y_label=name,
        )
        for name in ("train_loss", "val_loss")
        if len(points := _present(getattr(history, name))) >= 2
    ]
    result = CheckResult(
        "curves",
        CheckStatus.FOUND if findings else CheckStatus.PASSED,
        time.perf_counter() - started,
        f"{len(history.epochs)} epochs from {Path(path).name}",
        {"epochs": len(history.epochs), "plots": plots},
    )
    return Report(
        config=str(path),
        device="none",
        findings=rank(findings),
        checks=[result],
        timing=Timing(total_seconds=time.perf_counter() - started),
        fail_on=fail_on,
    )


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD601",
        checks=("overfitting",),
        message=(
            "{opening} loss was lowest at epoch {best_epoch:g} ({best_val_loss:.4g}) and has risen {val_rise:.0%} "
            "since (to {last_val_loss:.4g}) while training loss kept falling ({train_loss_at_best:.4g} -> "
            "{last_train_loss:.4g}). The model is memorizing the training set instead of learning what generalizes."
        ),
        remedy=(
            "Stop at the best validation epoch (epoch {best_epoch:g}) and regularize: dropout between layers, "
            "weight decay, a smaller model or more data:\n\n```python\n"
            "self.rnn = nn.LSTM(input_size, hidden, num_layers=2, dropout=0.3, batch_first=True)\n"
            "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)\n```"
        ),
        variants={
            "accuracy_gap": Wording(
                message=(
                    "Training accuracy ends {accuracy_gap:.0%} above validation accuracy. The model is memorizing "
                    "the training set instead of learning what generalizes."
                )
            ),
        },
        title="overfitting: train and validation diverge",
        severity=Severity.WARNING,
        what=(
            "Runs a short train/validation loop (a few epochs over the sampled training batches, validation loss "
            "and accuracy after each) and reports when validation loss has risen at least 10% above its minimum "
            "while training loss keeps falling, or training accuracy ends 15 points above validation accuracy. "
            "`rnndoctor curves LOG.csv` applies the same rules to a real training history."
        ),
        why=(
            "The model is fitting details specific to the training samples (its capacity is large for the "
            "amount of data, regularization is missing, or training runs too long). Those details do not "
            "carry over, so further training improves the training loss at the expense of validation."
        ),
        symptoms=(
            "Training accuracy near 100% with validation far below; validation loss turns upward after a few "
            "epochs while training loss keeps falling."
        ),
        fix=(
            "Add regularization (dropout before the head, weight decay), reduce the hidden size, get more "
            "data or augment it, and stop on validation loss."
        ),
        before=snippet(
            """
            self.rnn = nn.LSTM(32, 1024, num_layers=3, batch_first=True)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            for epoch in range(200):
                train_one_epoch(model, train_loader, optimizer)
            """
        ),
        after=snippet(
            """
            self.rnn = nn.LSTM(32, 256, num_layers=2, dropout=0.3, batch_first=True)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
            best = float("inf")
            for epoch in range(200):
                train_one_epoch(model, train_loader, optimizer)
                val_loss = evaluate(model, val_loader)
                if val_loss >= best:
                    break                             # validation stopped improving
                best = val_loss
            """
        ),
    ),
)

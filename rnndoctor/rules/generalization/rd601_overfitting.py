"""RD601: overfitting: validation loss turns up (or accuracy parts) while training loss keeps falling."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.logs.training_logs import History
from rnndoctor.logs.trends import CurveThresholds, finite_curves, noise_level, present, smoothed
from rnndoctor.measurements.dynamics import ShortTraining

RULE = Rule(
    code="RD601",
    checks=("overfitting",),
    message=(
        "{opening} loss was lowest at {axis} {best_epoch:g} ({best_val_loss:.4g}) and has risen {val_rise:.0%} "
        "since (to {last_val_loss:.4g}) while training loss kept falling ({train_loss_at_best:.4g} -> "
        "{last_train_loss:.4g}). The model is memorizing the training set instead of learning what generalizes."
    ),
    remedy=(
        "Stop at the best validation {axis} ({axis} {best_epoch:g}) and regularize: dropout between layers, "
        "weight decay, a smaller model or more data:\n\n```python\n"
        "$rnn = nn.$Rnn($rnn_sizes, num_layers=$stacked, dropout=0.3$rnn_bidirectional, batch_first=$batch_first)\n"
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
        "`rnndoctor curves LOG` applies the same rules to a real training history (a CSV, a Lightning "
        "`lightning_logs` folder or TensorBoard event files)."
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
)


@judges(RULE, History)
def overfitting(history: History, options: Mapping[str, Any]) -> list[Finding]:
    """Validation loss at least ``overfit_rise`` above its minimum while training loss does not rise, or
    training accuracy ``accuracy_gap`` above validation accuracy at the end."""
    train, val, _ = finite_curves(history)
    return _diverging(history, train, val, CurveThresholds.from_options(options))


@judges(RULE, ShortTraining)
def overfitting_in_short_run(run: ShortTraining, options: Mapping[str, Any]) -> list[Finding]:
    """The same on the short run, once its validation loss fell clearly below chance level (by
    ``chance_margin``): a big model memorizes a few sampled batches before it generalizes, and a gap to a
    validation loss that never left chance is that, not overfitting."""
    if not generalized(run, float(options["chance_margin"])):
        return []
    return overfitting(run.history, options)


def generalized(run: ShortTraining, margin: float) -> bool:
    """Whether validation loss ever fell clearly below chance level (True when chance is unknown)."""
    values = [v for v in run.history.val_loss if v is not None and math.isfinite(v)]
    if run.chance is None or not values or run.chance.loss <= 0:
        return True
    return min(values) < run.chance.loss * (1 - margin)


def _diverging(
    history: History, train: list[tuple[int, float]], val: list[tuple[int, float]], limits: CurveThresholds
) -> list[Finding]:
    if len(val) < 3:
        return []
    val_trend = list(zip([i for i, _ in val], smoothed([v for _, v in val]), strict=True))
    best_index, best_val = min(val_trend, key=lambda iv: iv[1])
    last_index, last_val = val_trend[-1]
    rise = (last_val - best_val) / max(abs(best_val), 1e-12)
    train_trend = list(zip([i for i, _ in train], smoothed([v for _, v in train]), strict=True))
    train_at_best = next((v for i, v in train_trend if i >= best_index), None)
    train_last = train_trend[-1][1] if train_trend else None
    # Training loss that keeps falling, or only wiggles at the level it reached, is the overfitting pattern.
    tolerance = noise_level([v for _, v in train])
    train_falling = train_at_best is not None and train_last is not None and train_last <= train_at_best + tolerance
    accuracy = present(history.train_acc), present(history.val_acc)
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
    words = {"opening": opening, "axis": history.axis}
    return [RULE.finding(evidence, words, variant=variant)]

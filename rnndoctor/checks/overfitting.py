"""A short train/validation run (RD601): a few epochs over the sampled training batches, validation loss
after each, judged with the same rules as `rnndoctor curves` applies to a user's own training log."""

from __future__ import annotations

import math
from typing import Any

from rnndoctor.checks.dynamics import batch_accuracy
from rnndoctor.curves import CurveThresholds, History, judge_history
from rnndoctor.registry import Check, CheckContext, Outcome, SkipCheck, register
from rnndoctor.render.plots import plot
from rnndoctor.session import Session
from rnndoctor.stepping import train_on


def validation_metrics(session: Session) -> tuple[float, float | None]:
    session.model.eval()
    losses, accuracies = [], []
    for raw in session.sample("val").batches:
        result = session.forward(raw)
        loss = session.loss(result.outputs, result.targets)
        losses.append(float(loss.detach().double().mean()))
        accuracy, _, _ = batch_accuracy(session, result.outputs, result.targets)
        if accuracy is not None:
            accuracies.append(accuracy)
    return sum(losses) / len(losses), (sum(accuracies) / len(accuracies) if accuracies else None)


def short_run(session: Session, epochs: int, patience: int, rise: float) -> History:
    history = History(source="short train/validation run")
    best = math.inf
    worse = 0
    for epoch in range(1, epochs + 1):
        session.model.train()
        losses, accuracies = [], []
        with session.carrying_state():
            steps = [train_on(session, raw) for raw in session.sample("train").batches]
        for step in steps:
            losses.append(step.loss)
            accuracy, _, _ = batch_accuracy(session, step.outputs, step.targets)
            if accuracy is not None:
                accuracies.append(accuracy)
        val_loss, val_acc = validation_metrics(session)
        history.epochs.append(float(epoch))
        history.train_loss.append(sum(losses) / len(losses))
        history.train_acc.append(sum(accuracies) / len(accuracies) if accuracies else None)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        if not math.isfinite(val_loss):
            break
        if val_loss < best:
            best, worse = val_loss, 0
        elif val_loss > best * (1 + rise):
            worse += 1
            if worse >= patience:
                break
    return history


@register
class OverfittingCheck(Check):
    name = "overfitting"
    codes = ("RD601",)
    cost = 10
    quick = False
    description = "a short train/validation run: does validation loss turn while training loss falls?"

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        if session.val_data is None:
            raise SkipCheck("no val_data in the config")
        limits = CurveThresholds(
            overfit_rise=float(options["overfit_rise"]), accuracy_gap=float(options["accuracy_gap"])
        )
        history = short_run(session, int(options["epochs"]), int(options["patience"]), limits.overfit_rise)
        ctx.findings.extend(f for f in judge_history(history, limits, self.name) if f.code == "RD601")
        train = [v for v in history.train_loss if v is not None]
        val = [v for v in history.val_loss if v is not None]
        metrics: dict[str, Any] = {
            "epochs": len(history.epochs),
            "train_loss": train,
            "val_loss": val,
            "gap": (val[-1] - train[-1]) if train and val else None,
            "best_val_epoch": history.epochs[val.index(min(val))] if val else None,
            "plots": [
                plot("validation loss per epoch (short run)", history.epochs, val, x_label="epoch", y_label="val loss")
            ],
        }
        return Outcome(
            f"{len(history.epochs)} epoch(s) over {len(session.sample('train').batches)} sampled training batches: "
            f"train {train[-1]:.4g}, validation {val[-1]:.4g}"
            if train and val
            else "no epoch completed",
            metrics,
        )

"""A short training run (RD507, RD601): a few epochs over the sampled training batches with the user's
optimizer and step; validation loss after each epoch when there is validation data.

RD601 is judged with the same rules as `rnndoctor curves` applies to a user's own training log. RD507
compares the training loss with chance level (what predicting the label distribution, or the mean, costs);
a run stuck there is tried once more at the sweep's suggested rate, to tell a bad rate from targets that
do not belong to their inputs.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import torch

from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.logs.training_logs import History
from rnndoctor.measurements.dynamics import Chance, ChanceRuns, ShortRun, ShortTraining
from rnndoctor.render.plots import plot
from rnndoctor.runtime import lr_heuristics
from rnndoctor.runtime.facts import fact
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.state import ModelState
from rnndoctor.runtime.stepping import LearningRate, batch_accuracy, rate_response, train_on
from rnndoctor.runtime.sweep import learning_rate_sweep
from rnndoctor.runtime.targets import targets_of, task_facts
from rnndoctor.runtime.task import BINARY, MULTI_LABEL, REGRESSION, SINGLE_LABEL, Task, loss_family


def validation_metrics(session: Session) -> tuple[float, float | None]:
    session.model.eval()
    losses, accuracies = [], []
    for raw in session.sample("val").batches:
        result = session.forward(session.within_step_budget(raw))
        loss = session.loss(result.outputs, result.targets)
        losses.append(float(loss.detach().double().mean()))
        accuracy, _, _ = batch_accuracy(session, result.outputs, result.targets)
        if accuracy is not None:
            accuracies.append(accuracy)
    return sum(losses) / len(losses), (sum(accuracies) / len(accuracies) if accuracies else None)


def short_run(session: Session, epochs: int, patience: int, rise: float) -> History:
    """Train ``epochs`` passes over the sampled batches; with validation data, stop once validation loss
    has been ``rise`` above its best for ``patience`` epochs."""
    validate = session.val_data is not None
    history = History(source="short training run")
    best = math.inf
    worse = 0
    for epoch in range(1, epochs + 1):
        session.model.train()
        with session.carrying_state():
            steps = [train_on(session, raw) for raw in session.sample("train").batches]
        losses, accuracies = [], []
        for step in steps:
            losses.append(step.loss)
            accuracy, _, _ = batch_accuracy(session, step.outputs, step.targets)
            if accuracy is not None:
                accuracies.append(accuracy)
        history.epochs.append(float(epoch))
        history.train_loss.append(sum(losses) / len(losses))
        history.train_acc.append(sum(accuracies) / len(accuracies) if accuracies else None)
        val_loss, val_acc = validation_metrics(session) if validate else (None, None)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        if not math.isfinite(history.train_loss[-1] or 0.0) or (val_loss is not None and not math.isfinite(val_loss)):
            break
        if val_loss is None:
            continue
        if val_loss < best:
            best, worse = val_loss, 0
        elif val_loss > best + rise * abs(best):
            worse += 1
            if worse >= patience:
                break
    return history


def chance_level(session: Session, task: Task) -> Chance | None:
    """The loss of the best constant prediction on the sampled targets, for the tasks where it is known:
    the entropy of the class distribution (single-label, binary, multi-label), the variance (MSE) or the
    mean absolute deviation from the median (L1) of regression targets."""
    targets = [t.double() for t in targets_of(session, "train")]
    if not targets:
        return None
    family = loss_family(session.loss_name)
    if task.kind == SINGLE_LABEL or (task.kind == BINARY and family == "index"):
        ids = torch.cat([t.reshape(-1) for t in targets])
        if task.ignore_index is not None:
            ids = ids[ids != task.ignore_index]
        counts = Counter(ids.long().tolist())
        total = sum(counts.values())
        entropy = -sum(n / total * math.log(n / total) for n in counts.values())
        majority = max(counts.values()) / total
        return Chance(entropy, f"the entropy of the {len(counts)} classes' distribution", majority)
    if task.kind in (BINARY, MULTI_LABEL) and family == "binary":
        values = torch.cat([t.reshape(t.shape[0], -1) for t in targets])
        rates = values.mean(dim=0).clamp(1e-6, 1 - 1e-6)
        entropy = float((-(rates * rates.log() + (1 - rates) * (1 - rates).log())).mean())
        majority = float(torch.maximum(rates, 1 - rates).mean())
        return Chance(entropy, "the label entropy (predicting each label's positive rate)", majority)
    if task.kind == REGRESSION and session.loss_name in ("MSELoss", "L1Loss"):
        values = torch.cat([t.reshape(-1) for t in targets])
        values = values[torch.isfinite(values)]
        if values.numel() < 2:
            return None
        if session.loss_name == "MSELoss":
            return Chance(float(values.var(unbiased=False)), "the target variance (predicting the mean)")
        return Chance(float((values - values.median()).abs().mean()), "the mean absolute deviation")
    return None


@register
class OverfittingCheck(Check):
    name = "overfitting"
    cost = 10
    quick = False
    description = "a short training run: does the loss leave chance level, does validation loss turn?"
    options = (
        Option(
            "epochs",
            5,
            "epochs of the short train/validation run over the sampled training batches",
            meaning="Epochs over the sampled training batches.",
            guards=("RD601",),
        ),
        Option(
            "patience",
            2,
            "stop once validation loss has been above its best for this many epochs",
            meaning="Stop once validation loss has stayed above its best for this many epochs.",
            guards=("RD601",),
        ),
        Option(
            "overfit_rise",
            0.1,
            "RD601: validation loss this far above its minimum while training loss falls",
            meaning="Validation loss this far (relative) above its minimum while training loss still falls.",
            guards=("RD601",),
        ),
        Option(
            "accuracy_gap",
            0.15,
            "RD601: training accuracy above validation accuracy by this much at the end",
            meaning="Training accuracy above validation accuracy by this much at the end.",
            guards=("RD601",),
        ),
        Option(
            "chance_margin",
            0.1,
            "RD507: last-epoch training loss within this share of chance level, no longer falling",
            meaning=(
                "The last epoch's training loss within this share of chance level (the label entropy, the target "
                "variance), no longer falling by half of it per epoch, and accuracy no better than the majority share"
                " by it."
            ),
            guards=("RD507",),
            notes=(
                "(shuffled labels end at 1.07x chance and raw pixels at 1.0x; healthy corpus runs at <= 0.98x",
                'also still fall, which the "no longer falling" half requires)',
            ),
        ),
    )

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        options = ctx.options
        epochs, patience = int(options["epochs"]), int(options["patience"])
        rise = float(options["overfit_rise"])
        start = ModelState(session.model, session.optimizer)
        history = short_run(session, epochs, patience, rise)
        chance = chance_level(session, fact(session, task_facts).task) if session.loss_name else None
        if session.val_data is not None:
            ctx.publish(ShortTraining(history, chance))
        metrics: dict[str, Any] = {"epochs": len(history.epochs), "train_loss": list(history.train_loss)}
        if chance is not None:
            metrics["chance_loss"] = chance.loss
            run = ShortRun(history.train_loss, history.train_acc, LearningRate(session.optimizer).configured)
            retry = None
            other = self._other_rate(session, run.lr)
            if run.at_chance(chance, float(options["chance_margin"])) and other is not None:
                start.restore()
                LearningRate(session.optimizer).set(other)
                again = short_run(session, epochs, patience, rise)
                retry = ShortRun(again.train_loss, again.train_acc, other)
                metrics["retry_lr"] = other
            ctx.publish(ChanceRuns(run, retry, chance))
        train = [v for v in history.train_loss if v is not None]
        val = [v for v in history.val_loss if v is not None]
        metrics.update(
            val_loss=val,
            gap=(val[-1] - train[-1]) if train and val else None,
            best_val_epoch=history.epochs[val.index(min(val))] if val else None,
        )
        curve, label = (val, "val loss") if val else (train, "train loss")
        metrics["plots"] = [
            plot(f"{label} per epoch (short run)", history.epochs, curve, x_label="epoch", y_label=label)
        ]
        batches = len(session.sample("train").batches)
        where = f"{len(history.epochs)} epoch(s) over {batches} sampled training batches"
        if not train:
            return Outcome("no epoch completed", metrics)
        detail = f"{where}: train {train[-1]:.4g}" + (f", validation {val[-1]:.4g}" if val else "")
        if chance is not None:
            detail += f" (chance {chance.loss + 0.0:.4g})"
        return Outcome(detail, metrics)

    @staticmethod
    def _other_rate(session: Session, configured: float) -> float | None:
        """The sweep's suggestion, when it is half a decade or more from the configured rate and the rate
        can be set at all."""
        sweep = fact(session, learning_rate_sweep)
        suggested = sweep.suggested_lr if sweep is not None else None
        response = rate_response(session)
        if not isinstance(suggested, float) or (response is not None and not response.follows_rate):
            return None
        return suggested if lr_heuristics.decades(suggested, configured) >= 0.5 else None

"""Fix verification: every automatable fix of a finding at warning or above, tried on the user's own model.

The same batch, seed, learning rate and step budget are trained twice, without and with the fix applied
mechanically (`rnndoctor.core.remedies`); the finding records both runs and whether the fix restored learning.
The ranking then puts the cause whose fix helps most first and demotes one whose fix changed nothing.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import torch

from rnndoctor.core.errors import SkipCheck, UserCodeError
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome, register
from rnndoctor.core.remedies import Trial, automated_codes, remedy_for
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.state import ModelState, seed_everything
from rnndoctor.runtime.stepping import LearningRate, batch_accuracy, evaluated, train_on
from rnndoctor.runtime.sweep import closure_evaluations
from rnndoctor.runtime.task import loss_family
from rnndoctor.runtime.tracebacks import first_line

LEARNED = 0.5
"""A run whose loss ends half-way from chance level to zero (or better) is learning."""


@dataclass
class FitSummary:
    """One run on the batch: the loss at its start and end, against the loss of guessing (chance)."""

    initial_loss: float | None = None
    final_loss: float | None = None
    steps: int = 0
    accuracy: float | None = None
    fitted: bool = False
    progress: float = -1.0
    """How far the loss fell from chance level towards zero: 1 fitted, 0 stuck at chance, -1 blew up."""
    balanced_accuracy: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "initial_loss": self.initial_loss,
            "final_loss": self.final_loss,
            "steps": self.steps,
            "accuracy": self.accuracy,
        }
        if self.balanced_accuracy is not None:
            doc["balanced_accuracy"] = self.balanced_accuracy
        if self.error is not None:
            doc["error"] = self.error
        return doc

    @property
    def learned(self) -> bool:
        """Fitted, or at least half-way from chance level to zero loss: learning is not what is broken here."""
        return self.fitted or (self.error is None and self.progress >= LEARNED)

    @property
    def score(self) -> float:
        return self.progress + (1.0 if self.fitted else 0.0)


def chance_loss(session: Session, outputs: Any, targets: Any, initial: float) -> float:
    """The loss of a model that knows nothing about the inputs: ln C for class ids, ln 2 per binary label,
    the loss of predicting the targets' mean for regression; else the run's own first loss."""
    family = loss_family(session.loss_name)
    if isinstance(outputs, torch.Tensor) and family == "index" and outputs.dim() >= 2 and outputs.shape[1] > 1:
        return math.log(int(outputs.shape[1]))
    if family == "binary":
        return math.log(2.0)
    if family == "regression" and isinstance(outputs, torch.Tensor) and isinstance(targets, torch.Tensor):
        try:
            with torch.no_grad():
                guess = torch.full_like(outputs, float(targets.detach().double().mean()))
                value = float(session.scalar_loss(guess, targets.to(outputs.dtype)).detach())
        except UserCodeError:
            value = math.nan
        if math.isfinite(value) and value > 0:
            return value
    return abs(initial) if math.isfinite(initial) and initial != 0 else 1.0


def fit(session: Session, raw: Any, lr: float, steps: int, tolerance: float) -> FitSummary:
    """Train on one batch until the loss is down to ``tolerance`` of chance level, or for ``steps`` steps."""
    session.model.train()
    LearningRate(session.optimizer).set(lr)
    summary = FitSummary()
    reference = None
    try:
        for _ in range(steps):
            step = train_on(session, raw)
            summary.steps += 1
            if summary.initial_loss is None:
                summary.initial_loss = step.loss
                reference = chance_loss(session, step.outputs, step.targets, step.loss)
            summary.final_loss = step.loss
            if not math.isfinite(step.loss):
                break
            summary.accuracy = batch_accuracy(session, step.outputs, step.targets)[0]
            assert reference is not None
            # A loss below zero is unbounded (log-probabilities it does not get), not a fit.
            if 0 <= step.loss <= tolerance * reference:
                summary.fitted = True
                break
    except UserCodeError as exc:
        summary.error = f"{type(exc.original).__name__}: {first_line(exc.original)}"
        return summary
    summary.progress = _progress(reference, summary.final_loss)
    return summary


def _progress(reference: float | None, final: float | None) -> float:
    if reference is None or final is None or not math.isfinite(final):
        return -1.0
    if final < 0:
        return 0.0
    return max(-1.0, min(1.0, (reference - final) / reference))


@dataclass
class Evaluation:
    loss: float
    chance: float
    accuracy: float | None
    balanced_accuracy: float | None


def evaluate(session: Session, raw: Any) -> Evaluation:
    """Loss, chance level, accuracy and balanced accuracy on ``raw`` in eval mode, without training."""
    result, loss = evaluated(session, raw)
    outputs, targets = result.outputs, result.targets
    return Evaluation(
        loss,
        chance_loss(session, outputs, targets, loss),
        batch_accuracy(session, outputs, targets)[0],
        balanced_accuracy(outputs, targets),
    )


SHORT_RUN_CHECKPOINT = 0.3
"""The short run is also scored at this share of its steps: a fix that makes learning faster shows early, one
that makes it possible at all may only show late."""


def short_run(session: Session, batches: list[Any], held_out: Any, lr: float, steps: int) -> list[FitSummary]:
    """Train ``steps`` steps over ``batches`` in turn; the loss on ``held_out`` at the start, and at the
    checkpoint and the end (one summary each)."""
    checkpoints = sorted({max(1, math.ceil(steps * SHORT_RUN_CHECKPOINT)), steps})
    summaries: list[FitSummary] = []
    try:
        start = evaluate(session, held_out)
        session.model.train()
        LearningRate(session.optimizer).set(lr)
        done = 0
        for checkpoint in checkpoints:
            while done < checkpoint:
                loss = train_on(session, batches[done % len(batches)]).loss
                done += 1
                if not math.isfinite(loss):
                    break
            end = evaluate(session, held_out)
            summary = FitSummary(start.loss, end.loss, done, end.accuracy, False, _progress(start.chance, end.loss))
            summary.balanced_accuracy = end.balanced_accuracy
            summaries.append(summary)
            session.model.train()
    except UserCodeError as exc:
        return [FitSummary(steps=0, error=f"{type(exc.original).__name__}: {first_line(exc.original)}")]
    return summaries


def balanced_accuracy(outputs: Any, targets: Any) -> float | None:
    """Mean recall over the classes present in the targets (class-index outputs only)."""
    if (
        not isinstance(outputs, torch.Tensor)
        or not isinstance(targets, torch.Tensor)
        or outputs.dim() != targets.dim() + 1
    ):
        return None
    if targets.is_floating_point() or outputs.shape[:1] + outputs.shape[2:] != targets.shape:
        return None
    predicted, truth = outputs.detach().argmax(dim=1).reshape(-1), targets.detach().reshape(-1).long()
    recalls = [float((predicted[truth == c] == c).double().mean()) for c in torch.unique(truth).tolist()]
    return sum(recalls) / len(recalls) if recalls else None


@dataclass
class TrialOutcome:
    trial: Trial
    before: FitSummary
    after: FitSummary
    improved: bool
    measure: str
    """"one batch" (the fit of one batch) or "short run" (held-out loss after steps over several batches)."""

    @property
    def effect(self) -> float:
        if self.after.error is not None:
            return -2.0
        if self.trial.balanced:
            return (self.after.balanced_accuracy or 0.0) - (self.before.balanced_accuracy or 0.0)
        if self.trial.closes_leak:
            return self.before.score - self.after.score
        return self.after.score - self.before.score

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": True,
            "change": self.trial.change,
            "measure": self.measure,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "improved": self.improved,
            "effect": round(self.effect, 3),
            "baseline_learned": self.before.learned or self.measure == SHORT_RUN,
            **({"closes_leak": True} if self.trial.closes_leak else {}),
            **({"partial": True} if self.trial.partial else {}),
        }


def improved(
    before: FitSummary,
    after: FitSummary,
    balanced: bool,
    min_gain: float,
    min_balanced_gain: float,
    short: bool = False,
) -> bool:
    """Whether the fix restored learning: the run no longer crashes, now fits, fits in half the steps, or
    gets ``min_gain`` closer from chance to zero loss; on a short run, or for class weights, also when the
    held-out balanced accuracy rises by ``min_balanced_gain``."""
    if after.error is not None:
        return False
    balanced_gain = (after.balanced_accuracy or 0.0) - (before.balanced_accuracy or 0.0)
    if balanced:
        return balanced_gain >= min_balanced_gain
    if before.error is not None:
        return after.fitted or after.progress >= min_gain
    if after.fitted and not before.fitted:
        return True
    if after.fitted and before.fitted:
        return after.steps * 2 <= before.steps
    # Held-out accuracy counts too (a short run): a loss can fall little while the predictions turn right.
    return after.progress - before.progress >= min_gain or (short and balanced_gain >= min_balanced_gain)


@dataclass
class TrialRunner:
    """What every trial of one run is measured on, and the runs without any fix (computed once)."""

    session: Session
    start: ModelState
    lr: float
    one_batch: Any
    train_batches: list[Any]
    held_out: Any
    options: dict[str, Any]
    baselines: dict[str, list[FitSummary]]

    def measure(self, trial: Trial | None, measure: str) -> list[FitSummary]:
        """The runs of one setup (``trial`` applied, or as configured): one fit of one batch, or a short run
        scored at its checkpoints."""
        if trial is None and measure in self.baselines:
            return self.baselines[measure]
        session, options = self.session, self.options
        self.start.restore()
        seed_everything(session.seed)
        edit = trial.batch_edit if trial is not None and trial.batch_edit is not None else _unchanged
        lr = trial.lr if trial is not None and trial.lr else self.lr
        context = trial.applied(session) if trial is not None else contextlib.nullcontext()
        try:
            with context:
                if measure == ONE_BATCH:
                    tolerance = float(options["loss_tolerance"])
                    steps = closure_steps(session, int(options["steps"]))
                    summaries = [fit(session, edit(self.one_batch), lr, steps, tolerance)]
                else:
                    batches = [edit(raw) for raw in self.train_batches]
                    steps = closure_steps(session, int(options["short_steps"]))
                    summaries = short_run(session, batches, edit(self.held_out), lr, steps)
        finally:
            self.start.restore()
        if trial is None:
            self.baselines[measure] = summaries
        return summaries

    def compare(self, trial: Trial, measure: str, leak: bool = False) -> TrialOutcome:
        """Without and with the fix on ``measure``; of a short run's checkpoints, the one where the fix helps
        most (the end when it helps at none). A leak is confirmed when the setup without the fix does better."""
        gain, balanced_gain = float(self.options["min_gain"]), float(self.options["min_balanced_gain"])
        short = measure == SHORT_RUN
        outcomes = []
        for before, after in zip(self.measure(None, measure), self.measure(trial, measure), strict=False):
            if leak:
                better = after.error is None and improved(after, before, False, gain, balanced_gain, short=short)
            else:
                better = improved(before, after, trial.balanced, gain, balanced_gain, short=short)
            outcomes.append(TrialOutcome(trial, before, after, better, measure))
        helped = [v for v in outcomes if v.improved]
        return max(helped, key=lambda v: v.effect) if helped else outcomes[-1]

    def outcome(self, trial: Trial) -> TrialOutcome:
        if trial.closes_leak:
            # The mirror image of an improvement: the configured setup fits far faster or better, on one batch
            # or on held-out data (reading the answer off the inputs generalizes; memorizing does not).
            tried = self.compare(trial, ONE_BATCH, leak=True)
            return tried if tried.improved else self.compare(trial, SHORT_RUN, leak=True)
        if not trial.balanced:
            tried = self.compare(trial, ONE_BATCH)
            # A batch learned without the fix cannot show the fix's effect: a short run over several batches can.
            if tried.improved or not tried.before.learned:
                return tried
        return self.compare(trial, SHORT_RUN)


def closure_steps(session: Session, steps: int) -> int:
    """Steps with about the passes of ``steps`` plain ones: LBFGS evaluates its closure up to ``max_iter``
    times per step (and usually gets further per step), so it takes steps / max_iter of them, at least 5."""
    evaluations = closure_evaluations(session.optimizer)
    return steps if evaluations == 1 else min(steps, max(5, math.ceil(steps / evaluations)))


ONE_BATCH = "one batch"
SHORT_RUN = "short run"


def _unchanged(raw: Any) -> Any:
    return raw


@register
class VerifyFixesCheck(Check):
    name = "verify_fixes"
    codes = ()
    amends = True
    amended = tuple(automated_codes())
    cost = 10
    quick = False
    description = "each automatable fix tried on the user's model: does the loss now fall?"
    options = (
        Option(
            "steps",
            150,
            "most optimizer steps on one batch, with and without the fix (stops once fitted)",
            meaning=(
                "Most optimizer steps on one batch, with and without the fix; a run stops once fitted. LBFGS, which "
                "evaluates its closure up to `max_iter` times a step, takes steps / max_iter steps (at least 5)."
            ),
        ),
        Option("samples", 8, "samples taken from the first batch for the one-batch runs"),
        Option(
            "loss_tolerance",
            0.01,
            "fitted = the loss down to this share of its chance level",
            meaning=(
                "A run has fitted the batch once its loss is down to this share of chance level (ln C for class ids, "
                "ln 2 for binary labels, the loss of predicting the mean for regression)."
            ),
        ),
        Option(
            "min_gain",
            0.2,
            "improved = the loss ends this share of chance level lower with the fix",
            meaning=(
                "A fix improves a run when it no longer crashes, newly fits the batch, fits it in half the steps, "
                "or ends this share of chance level closer to zero loss than the run without it."
            ),
        ),
        Option(
            "short_steps",
            200,
            "steps of the short run over the sampled batches, used when one batch fits without the fix",
            meaning=(
                "Steps of the short run over the sampled training batches (the last one held out and scored), used "
                "when one batch fits without the fix too and for class weights."
            ),
        ),
        Option(
            "min_balanced_gain",
            0.1,
            "short runs and class weights improve when held-out balanced accuracy rises by this much",
        ),
        Option("max_findings", 4, "most findings whose fixes are tried, best ranked first"),
    )

    @classmethod
    def needed(cls, prior: list[Finding]) -> bool:
        return bool(_candidates(prior))

    def run(self, ctx: CheckContext) -> Outcome:
        session = ctx.session
        candidates = _candidates(ctx.prior)
        if not candidates:
            raise SkipCheck("no finding at warning or above has a fix that can be applied automatically")
        candidates.sort(key=lambda f: (-int(f.severity), -f.confidence))
        runner = self._runner(session, ctx.options)
        tried = restored = 0
        lines = []
        for finding in candidates[: int(ctx.options["max_findings"])]:
            remedy = remedy_for(finding.code)
            assert remedy is not None
            try:
                trials = remedy(session, finding)
            except (UserCodeError, RuntimeError, ValueError, TypeError) as exc:
                trials = f"it could not be prepared ({type(exc).__name__}: {first_line(exc)})"
            if isinstance(trials, str):
                finding.verified = {"applied": False, "reason": trials}
                continue
            try:
                best = max((runner.outcome(trial) for trial in trials), key=lambda v: (v.improved, v.effect))
            except Exception as exc:  # noqa: BLE001 - one fix that cannot be tried must not cost the others
                finding.verified = {
                    "applied": False,
                    "reason": f"the trial failed ({type(exc).__name__}: {first_line(exc)})",
                }
                continue
            finding.verified = best.to_dict()
            tried += 1
            restored += best.improved
            lines.append(f"{finding.code} {'improved' if best.improved else 'no change'}")
        return Outcome(
            f"{tried} fix(es) tried, {restored} restored learning" + (f" ({'; '.join(lines)})" if lines else ""),
            {"tried": tried, "improved": restored},
        )

    @staticmethod
    def _runner(session: Session, options: dict[str, Any]) -> TrialRunner:
        batches = session.sample("train").batches
        first = batches[0]
        cut = session.take(first, int(options["samples"])) or first
        runner = TrialRunner(
            session,
            ModelState(session.model, session.optimizer),
            LearningRate(session.optimizer).configured,
            cut,
            batches[:-1] or batches,
            batches[-1],
            options,
            {},
        )
        if cut is not first and runner.measure(None, ONE_BATCH)[0].error is not None:
            # Some models only run on whole batches (a batch size that must equal another axis).
            runner.one_batch, runner.baselines = first, {}
        return runner


def _candidates(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity >= Severity.WARNING and remedy_for(f.code) is not None]

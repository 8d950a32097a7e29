"""RD503: the model cannot fit (memorize) a single batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.dynamics import OverfitRuns

RULE = Rule(
    code="RD503",
    options=(
        Option(
            "stuck_share",
            0.3,
            "RD503: reported only when the loss fell by less than this share (between: inconclusive)",
            meaning=(
                "RD503 is reported only when the loss fell by less than this share; between the two the fit is "
                "inconclusive and reported as nothing, so float noise cannot flip the verdict."
            ),
            guards=("RD503",),
            notes=("(healthy word/char LMs fall by 0.48-0.52 in 200 steps; broken fits by < 0.1)",),
        ),
    ),
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
)


@judges(RULE, OverfitRuns)
def cannot_fit(runs: OverfitRuns, options: Mapping[str, Any]) -> list[Finding]:
    """Neither run learns the batch (fitted, fell by ``learned_share`` of its start, or still falling when its
    steps ran out). An error when every run fell by less than ``stuck_share``, a margin below
    ``learned_share`` so that float noise between machines cannot flip the verdict (a run in between is
    inconclusive: no finding); a warning that blames the learning rate when only the retry at another rate
    learned."""
    configured, retry = runs.configured, runs.retry
    learned_share, stuck_share = float(options["learned_share"]), float(options["stuck_share"])
    if configured.learns(learned_share):
        return []
    fixed_by_lr = retry is not None and retry.learns(learned_share)
    if not fixed_by_lr and any(run.dropped >= stuck_share for run in [configured, *([retry] if retry else [])]):
        return []
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
    if fixed_by_lr and retry is not None:
        words: dict[str, object] = {
            "learns": "fits it" if retry.fitted else "learns it",
            "retry_initial_loss": retry.initial_loss,
            "retry_steps": retry.steps,
        }
        return [
            RULE.finding(
                evidence, words, variant="learning_rate", severity=Severity.WARNING, confidence=0.6, explains=("RD505",)
            )
        ]
    words = {
        "batch_accuracy": (f", batch accuracy {configured.accuracy:.0%}" if configured.accuracy is not None else ""),
        "tried": f" and at lr={retry.lr:.2g} (loss {retry.final_loss:.4g})" if retry is not None else "",
    }
    return [RULE.finding(evidence, words, severity=None, confidence=0.8, explains=("RD505",))]

"""RD501: the configured learning rate is far below where the loss starts to fall."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.dynamics import Sweep
from rnndoctor.runtime.facts import known
from rnndoctor.runtime.lr_heuristics import MIN_RELATIVE_DROP
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.stepping import LearningRate, rate_response
from rnndoctor.runtime.sweep import learning_rate_sweep

RULE = Rule(
    code="RD501",
    options=(
        Option(
            "too_low_factor",
            100.0,
            "RD501: configured rate more than this factor below where the loss starts to fall",
            meaning="The configured rate is this factor (or more) below where the loss starts to fall.",
            guards=("RD501",),
        ),
        Option(
            "onset_fraction",
            0.1,
            'RD501: "starts to fall" = smoothed loss down by this share of its total drop',
            meaning='"Starts to fall": the smoothed loss is down by this share of its total drop.',
            guards=("RD501",),
        ),
    ),
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
)


@judges(RULE, Sweep)
def too_low(sweep: Sweep, options: Mapping[str, Any]) -> list[Finding]:
    """The configured rate is more than ``too_low_factor`` below the onset of learning (where the smoothed
    loss has fallen by ``onset_fraction`` of its total drop). No verdict when the sweep shows no learning at
    any rate (the cause is elsewhere)."""
    gap = decades_too_low(sweep, options)
    if gap is None:
        return []
    return [
        RULE.finding(
            sweep_evidence(sweep, options), {**sweep_words(sweep), "gap": gap}, confidence=min(1.0, 0.6 + 0.2 * gap)
        )
    ]


def decades_too_low(sweep: Sweep, options: Mapping[str, Any]) -> float | None:
    """How many decades the configured rate sits below the onset of learning, when it is too low (else None)."""
    if not sweep.shows_learning(MIN_RELATIVE_DROP):
        return None
    onset = sweep.onset(float(options["onset_fraction"]))
    lr = sweep.configured_lr
    if onset is None or lr >= onset / float(options["too_low_factor"]):
        return None
    return math.log10(onset / lr)


def sweep_evidence(sweep: Sweep, options: Mapping[str, Any]) -> dict[str, Any]:
    """What a learning-rate finding shows of the range test (RD501, RD502)."""
    lr_min, loss_min = sweep.lowest
    return {
        "configured_lr": sweep.configured_lr,
        "suggested_lr": sweep.suggested_lr,
        "onset_lr": sweep.onset(float(options["onset_fraction"])),
        "lowest_loss_lr": lr_min,
        "diverged_at": sweep.diverged_at,
        "initial_loss": sweep.initial,
        "lowest_loss": loss_min,
    }


def sweep_words(sweep: Sweep) -> dict[str, object]:
    suggestion = sweep.suggested_lr
    return {
        "optimizer": sweep.optimizer,
        "advice": f"lr={suggestion:.2g}" if suggestion is not None else "a learning rate inside the falling stretch",
        "suggests": f" The sweep suggests {suggestion:.2g}." if suggestion is not None else "",
    }


@remedy(RULE)
def learning_rate(session: Session, finding: Finding) -> list[Trial] | str:
    """The learning-rate sweep's suggestion instead of the configured rate."""
    response = rate_response(session)
    if response is not None and not response.follows_rate:
        return "the train_step ignores the optimizer's learning rate"
    suggested = finding.evidence.get("suggested_lr")
    if not isinstance(suggested, float):
        sweep = known(session, learning_rate_sweep)
        suggested = sweep.reported_lr if sweep is not None else None
    if not isinstance(suggested, float) or not suggested > 0:
        return "the learning-rate sweep made no suggestion"
    configured = LearningRate(session.optimizer).configured
    return [Trial(f"learning rate {configured:.2g} → {suggested:.2g}", lr=suggested)]

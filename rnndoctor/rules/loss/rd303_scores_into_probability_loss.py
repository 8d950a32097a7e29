"""RD303: raw scores fed to a loss that expects probabilities or log-probabilities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.loss import LossMeasurement
from rnndoctor.runtime.patches import log_probabilities, loss_inputs_adapted
from rnndoctor.runtime.session import Session

RULE = Rule(
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
                "The {stage_words} raised an error: the loss expects probabilities but got unbounded scores. {error}"
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
)


@judges(RULE, LossMeasurement)
def scores_into_probability_loss(m: LossMeasurement, options: Mapping[str, Any]) -> list[Finding]:
    """BCELoss on unbounded outputs; NLLLoss, KLDivLoss or a CTC loss on outputs that are not
    log-probabilities."""
    log_prob_loss = "ctc" in m.loss.lower() or m.loss == "KLDivLoss"
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
            "head": m.head,
        }
        return [RULE.finding(evidence, words, variant="log_probabilities")]
    if m.loss == "BCELoss" and (m.output_min < 0 or m.output_max > 1):
        evidence = {"loss": m.loss, "output_min": m.output_min, "output_max": m.output_max}
        return [RULE.finding(evidence, variant="bce")]
    if m.loss == "NLLLoss" and not m.rows_are_log_probabilities and not m.log_probabilities_on_wrong_axis:
        evidence = {
            "loss": m.loss,
            "output_min": m.output_min,
            "output_max": m.output_max,
            "probabilities": m.rows_are_probabilities,
            "loss_value": m.loss_value,
        }
        words = {
            "at_init": f" (loss at initialization {m.loss_value:.4g})" if m.loss_value is not None else "",
            "head": m.head,
        }
        return [RULE.finding(evidence, words, variant="nll_probabilities" if m.rows_are_probabilities else None)]
    return []


@remedy(RULE)
def probabilities_restored(session: Session, finding: Finding) -> list[Trial] | str:
    """`log_softmax` before `NLLLoss`/`KLDivLoss`/CTC, `log` of probabilities, or `BCELoss` → `BCEWithLogitsLoss`."""
    loss = str(finding.evidence.get("loss", session.loss_name))
    probabilities = bool(finding.evidence.get("probabilities"))
    if loss == "BCELoss":
        return [Trial("BCELoss → BCEWithLogitsLoss", [loss_inputs_adapted(outputs=torch.sigmoid)])]
    if probabilities:
        return [Trial("log() of the probabilities before the loss", [loss_inputs_adapted(outputs=log_probabilities)])]
    if loss == "NLLLoss":
        return [
            Trial(
                "NLLLoss → CrossEntropyLoss (log-softmax over the class axis)",
                [loss_inputs_adapted(outputs=lambda z: torch.log_softmax(z, dim=1 if z.dim() > 1 else 0))],
            )
        ]
    return [
        Trial(
            "log_softmax over the last axis before the loss",
            [loss_inputs_adapted(outputs=lambda z: torch.log_softmax(z, dim=-1))],
        )
    ]

"""RD506: the model ignores its input (it fits as well with every input zeroed)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.dynamics import BlindFit

RULE = Rule(
    code="RD506",
    options=(
        Option(
            "input_gain_tolerance",
            0.05,
            "RD506: real inputs must end below the zero-input fit by this share",
            meaning="The fit with real inputs must end below the zero-input fit by this share.",
            guards=("RD506",),
        ),
        Option(
            "input_sensitivity",
            0.01,
            "RD506: ...and zeroing the inputs moves the outputs by at most this (against their spread)",
            meaning=(
                "...and zeroing the inputs moves the outputs (before training) by at most this share of how much they"
                " differ between samples: a model whose outputs read the input is not ignoring it, however poorly it "
                "fits."
            ),
            guards=("RD506",),
            notes=(
                "(healthy models measure >= 1.0, ignored inputs ~0: a model that calls eval() mid-step stays quiet)",
            ),
        ),
    ),
    checks=("overfit_batch",),
    message=(
        "With every input replaced by zeros the model fits the batch just as well (final loss "
        "{final_loss_zero_inputs:.4g}) as with the real inputs ({final_loss_real_inputs:.4g}): its outputs do "
        "not depend on the input, only on biases."
    ),
    remedy=(
        "Trace the input through forward: a variable overwritten, the wrong tensor read out (padding, an unused "
        "branch), a detached or zero-multiplied path."
    ),
    title="model ignores its input",
    severity=Severity.ERROR,
    what=(
        "When the single-batch fit does not succeed, repeats it with every input replaced by zeros (the "
        "padding id for token ids) and reports when the real inputs end no lower than the zeroed ones: the "
        "outputs do not depend on the input."
    ),
    why=(
        "If the loss reached without the real input is just as low, the predictions come from the bias "
        "and the label frequencies, not from the sequence. Typical causes are a forward pass that reads "
        "the wrong tensor (such as the initial hidden state instead of the final one), a cut between "
        "input and output, or preprocessing that empties the features."
    ),
    symptoms=(
        "Accuracy equals the majority share; loss flat at the label entropy, 0.693 (= ln 2) for balanced "
        "binary labels; the same output for every input."
    ),
    fix=(
        "Trace the input through forward(): make sure the head reads a tensor that depends on x, and "
        "that the features still vary after preprocessing."
    ),
    before=snippet(
        """
        def forward(self, x):
            h0 = torch.zeros(1, x.size(0), self.hidden_size)
            out, h_n = self.rnn(x, h0)
            return self.head(h0[-1])          # reads the initial state, not the result
        """
    ),
    after=snippet(
        """
        def forward(self, x):
            h0 = torch.zeros(1, x.size(0), self.hidden_size)
            out, h_n = self.rnn(x, h0)
            return self.head(h_n[-1])
        """
    ),
)


@judges(RULE, BlindFit)
def input_ignored(fits: BlindFit, options: Mapping[str, Any]) -> list[Finding]:
    """The fit with the inputs zeroed ends as low as the fit with the real inputs (within
    ``input_gain_tolerance``), and the outputs barely move when the inputs are zeroed (``input_sensitivity``
    at most): a model whose outputs clearly read the input is not ignoring it, however poorly it fits."""
    normal, blind, sensitivity = fits.normal, fits.blind, fits.sensitivity
    tolerance, max_sensitivity = float(options["input_gain_tolerance"]), float(options["input_sensitivity"])
    if normal.fitted or not (math.isfinite(normal.final_loss) and math.isfinite(blind.final_loss)):
        return []
    if sensitivity is not None and sensitivity > max_sensitivity:
        return []
    gain = blind.final_loss - normal.final_loss
    scale = max(abs(blind.initial_loss - blind.final_loss), abs(blind.final_loss), 1e-12)
    if gain > tolerance * scale:
        return []
    evidence = {
        "final_loss_real_inputs": normal.final_loss,
        "final_loss_zero_inputs": blind.final_loss,
        "steps": normal.steps,
        "input_sensitivity": sensitivity,
    }
    return [RULE.finding(evidence, explains=("RD503", "RD504", "RD505"))]

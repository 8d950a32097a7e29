"""RD105: NaN or infinite values in the sampled inputs or targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.data import NonFinite
from rnndoctor.runtime.patches import loss_inputs_adapted, model_input_edited
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD105",
    checks=("inputs",),
    message=(
        "The sampled {where} hold {nan} NaN and {inf} infinite values out of {values}. One such value makes the "
        "loss NaN, and the first optimizer step then writes NaN into every weight."
    ),
    remedy=(
        "Find where they come from (a division by zero, log of 0, a missing value in the raw data) and fill or "
        "drop them before batching:\n\n```python\nassert torch.isfinite({where}).all()\n"
        "{where} = torch.nan_to_num({where}, nan=0.0)\n```"
    ),
    title="NaN or Inf in inputs or targets",
    severity=Severity.ERROR,
    what=(
        "Runs torch.isfinite over every sampled training and validation batch and counts the NaN and Inf "
        "values in inputs and targets, naming the features or positions where they occur."
    ),
    why=(
        "A single NaN in an input flows through the recurrence into every later hidden state and into "
        "the loss. Its gradient is NaN as well, and one optimizer step then writes NaN into the weights, "
        "which ruins the model for good. An Inf behaves the same as soon as it meets a zero or another "
        "Inf."
    ),
    symptoms=(
        "Loss is nan from the first batch, or turns nan suddenly in the middle of an epoch on one "
        "particular batch and stays nan; every output is nan afterwards."
    ),
    fix=(
        "Clean the data where it is loaded: fill or drop missing values, fix divisions by zero in "
        "feature engineering, and assert torch.isfinite on each tensor before it reaches the model."
    ),
    before=snippet(
        """
        df = pd.read_csv("train.csv")                     # some cells are empty
        x = torch.tensor(df[feature_cols].values, dtype=torch.float32)
        """
    ),
    after=snippet(
        """
        df = pd.read_csv("train.csv")
        df[feature_cols] = df[feature_cols].fillna(df[feature_cols].mean())
        x = torch.tensor(df[feature_cols].values, dtype=torch.float32)
        assert torch.isfinite(x).all()
        """
    ),
    explains=("RD307", "RD401", "RD503", "RD505"),
)


@judges(RULE, NonFinite)
def non_finite(counted: NonFinite, options: Mapping[str, Any]) -> list[Finding]:
    """Any NaN or infinite value: a single one turns the loss and every gradient into NaN."""
    if counted.nan == 0 and counted.inf == 0:
        return []
    return [RULE.finding({"where": counted.where, "nan": counted.nan, "inf": counted.inf, "values": counted.total})]


@remedy(RULE)
def non_finite_replaced(session: Session, finding: Finding) -> list[Trial] | str:
    """NaN/Inf in the inputs (or targets) replaced by 0."""
    if finding.evidence.get("where") == "targets":
        return [Trial("NaN/Inf targets replaced by 0", [loss_inputs_adapted(targets=torch.nan_to_num)])]
    return [Trial("NaN/Inf inputs replaced by 0", [model_input_edited(lambda x: torch.nan_to_num(x, 0.0, 0.0, 0.0))])]

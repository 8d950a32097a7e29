"""RD111: validation samples that also occur in the training data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.data import LeakStats

RULE = Rule(
    code="RD111",
    options=(
        Option(
            "min_leak_share",
            0.05,
            "RD111: estimated share of validation samples also present in training",
            meaning="Estimated share of validation samples that also appear in training.",
            guards=("RD111",),
        ),
        Option(
            "min_duplicates",
            3,
            "RD111: and at least this many identical samples actually seen",
            meaning="Least number of identical train/validation samples actually found.",
            guards=("RD111",),
        ),
        Option(
            "chance_factor",
            3.0,
            "RD111: and this many times the duplicate rate found inside training itself",
            meaning=(
                "The cross-split duplicate rate must be at least this many times the duplicate rate inside training "
                "itself (so data with many natural repeats is not flagged)."
            ),
            guards=("RD111",),
        ),
    ),
    checks=("leakage",),
    message=(
        "{overlap} of {val_samples} sampled validation samples also occur in the {train_samples} training "
        "samples checked (an estimated {estimated_share:.0%} of the validation set). Validation scores on leaked "
        "samples measure memory, not generalization."
    ),
    remedy=(
        "Deduplicate before splitting, and split by a group key (user, document, time window) when "
        "near-identical sequences exist:\n\n"
        "```python\nunique = {{tuple(seq): label for seq, label in samples}}\n```"
    ),
    title="identical samples in train and validation",
    severity=Severity.WARNING,
    what=(
        "Hashes each sampled input sequence, with its padding stripped, in the training and validation "
        "batches and counts validation samples whose exact copy also occurs in training."
    ),
    why=(
        "A validation sample that also sits in the training set can be answered from memory, so "
        "validation rewards memorisation. Validation metrics then overstate how well the model "
        "generalizes and hide overfitting, which misleads early stopping and model selection."
    ),
    symptoms=(
        "Validation accuracy is suspiciously close to training accuracy, and the model does much worse "
        "on truly new data than validation promised."
    ),
    fix=(
        "Remove duplicates before splitting, and split by source (speaker, document, recording) so that "
        "near-copies from one source all land on the same side."
    ),
    before=snippet(
        """
        ds = TensorDataset(x, y)                              # x contains repeated rows
        train_ds, val_ds = random_split(ds, [0.8, 0.2])
        """
    ),
    after=snippet(
        """
        flat = x.reshape(len(x), -1).numpy()
        _, keep = np.unique(flat, axis=0, return_index=True)   # first copy of each distinct sample
        keep = torch.as_tensor(np.sort(keep))
        ds = TensorDataset(x[keep], y[keep])
        train_ds, val_ds = random_split(ds, [0.8, 0.2])
        """
    ),
    explains=("RD601",),
)


@judges(RULE, LeakStats)
def leakage(stats: LeakStats, options: Mapping[str, Any]) -> list[Finding]:
    """Validation samples that also appear in training, beyond what chance collisions explain: at least
    ``min_duplicates`` seen, an estimated ``min_leak_share`` of validation, and ``chance_factor`` times the
    duplicate rate inside training."""
    min_share, min_duplicates = float(options["min_leak_share"]), int(options["min_duplicates"])
    chance_factor = float(options["chance_factor"])
    if stats.val_samples == 0 or stats.overlap < min_duplicates:
        return []
    observed = stats.overlap / stats.val_samples
    coverage = stats.train_coverage or 1.0
    estimated = min(1.0, observed / coverage)
    if estimated < min_share or observed <= chance_factor * stats.train_duplicate_share:
        return []
    evidence = {
        "overlap": stats.overlap,
        "val_samples": stats.val_samples,
        "train_samples": stats.train_samples,
        "estimated_share": estimated,
        "train_duplicate_share": stats.train_duplicate_share,
        "train_coverage": stats.train_coverage,
        "example_val_indices": stats.examples[:5],
    }
    return [RULE.finding(evidence)]

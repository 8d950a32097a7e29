"""RD507: training stays at chance level in the short run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.measurements.dynamics import ChanceRuns

RULE = Rule(
    code="RD507",
    checks=("overfitting",),
    message=(
        "After {epochs} epochs over the sampled training batches at lr={lr:.2g} the training loss is "
        "{final_loss:.4g}, at chance level ({chance_loss:.4g}, {chance_basis}){accuracy}.{tried} The model finds "
        "nothing in the inputs that predicts the targets beyond their overall distribution. With the data, the "
        "wiring and the learning rate passing their checks, the usual cause is targets that do not belong to "
        "their samples (labels shuffled or sorted apart from the inputs, a join on the wrong key)."
    ),
    remedy=(
        "Print a few (input, target) pairs and check them by hand; shuffle samples and labels together:\n\n"
        "```python\nperm = torch.randperm(len(x))\nx, y = x[perm], y[perm]     # one permutation for both\n```"
    ),
    title="training stays at chance level in the short run",
    severity=Severity.ERROR,
    what=(
        "Trains a few epochs over the sampled training batches with the configured optimizer (and "
        "train_step) and compares the training loss with chance level: the entropy of the label "
        "distribution for class losses (ln C when balanced, ln 2 for binary), the target variance for "
        "squared error. Reported when the loss ends within a small margin of chance and has stopped "
        "falling, and nothing more specific explains it."
    ),
    why=(
        "A model that stays at chance across many batches has found no relation between inputs and "
        "targets that holds beyond single samples. When the data, the wiring and the learning rate pass "
        "their checks, the usual cause is that the targets do not belong to the inputs: labels shuffled or "
        "sorted separately from the samples, a join on the wrong key, features and labels read from "
        "different files."
    ),
    symptoms=(
        "Loss flat at 0.693 (binary) or ln C, accuracy at the majority-class share, for every learning "
        "rate tried; the model can still memorize a handful of samples."
    ),
    fix=(
        "Check that every target is paired with its own sample: print a few (input, target) pairs and "
        "check them by hand, and shuffle samples and labels together (one permutation, or a Dataset "
        "that returns both)."
    ),
    before=snippet(
        """
        x = torch.stack(features)
        y = torch.tensor(labels)[torch.randperm(len(labels))]   # shuffled on their own
        dataset = TensorDataset(x, y)
        """
    ),
    after=snippet(
        """
        x = torch.stack(features)
        y = torch.tensor(labels)
        dataset = TensorDataset(x, y)
        loader = DataLoader(dataset, batch_size=32, shuffle=True)   # pairs shuffled together
        """
    ),
)


@judges(RULE, ChanceRuns)
def chance_level(runs: ChanceRuns, options: Mapping[str, Any]) -> list[Finding]:
    """The short run ends within ``chance_margin`` of chance level and is not learning, and so does a second
    run at the sweep's suggested rate when there is one (a run that leaves chance at another rate is the
    learning-rate rules' business)."""
    run, retry, chance, margin = runs.run, runs.retry, runs.chance, float(options["chance_margin"])
    if not run.at_chance(chance, margin):
        return []
    losses = run.finite
    evidence = {
        "train_loss": [round(v, 6) for v in losses],
        "chance_loss": chance.loss,
        "chance_basis": chance.basis,
        "majority_share": chance.majority,
        "lr": run.lr,
        "epochs": len(losses),
    }
    if retry is not None and not retry.at_chance(chance, margin):
        return []  # another rate leaves chance: the learning-rate checks own that verdict
    accuracy = next((a for a in reversed(run.accuracies) if a is not None), None)
    words = {
        "final_loss": losses[-1],
        "accuracy": (
            f", with accuracy {accuracy:.0%} against a majority share of {chance.majority:.0%}"
            if accuracy is not None and chance.majority is not None
            else ""
        ),
        "tried": (
            f" A second run at lr={retry.lr:.2g} stayed there too ({retry.finite[-1]:.4g})."
            if retry and retry.finite
            else ""
        ),
    }
    return [RULE.finding(evidence, words, confidence=0.7)]

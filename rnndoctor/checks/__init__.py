"""Built-in checks, one module per family. Importing a module registers its checks."""

from __future__ import annotations

import importlib

FAMILIES = (
    "rnndoctor.checks.data",
    "rnndoctor.checks.loss",
    "rnndoctor.checks.alignment",
    "rnndoctor.checks.stepwise",
    "rnndoctor.checks.structure",
    "rnndoctor.checks.gradients",
    "rnndoctor.checks.probes",
    "rnndoctor.checks.training_step",
    "rnndoctor.checks.dynamics",
    "rnndoctor.checks.overfitting",
    "rnndoctor.checks.verification",
)


def load_all() -> None:
    for module in FAMILIES:
        importlib.import_module(module)

"""Turn an exception raised by the user's code into the finding that explains it.

The error message torch gives is usually precise but phrased for torch developers; the finding names
the cause in the user's terms and keeps the original message as evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rnndoctor.core.catalogue import Rule, Wording, get_rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.runtime.tracebacks import first_line, user_frame


@dataclass(frozen=True)
class CrashPattern:
    code: str
    pattern: re.Pattern[str]
    stages: tuple[str, ...]


def _p(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)


PATTERNS: tuple[CrashPattern, ...] = (
    CrashPattern(
        "RD201",
        _p(r"input\.size\(-1\) must be equal to input_size|input_size.*expected \d+, got \d+"),
        ("forward",),
    ),
    CrashPattern(
        "RD109",
        _p(r"index out of range in self|device-side assert"),
        ("forward",),
    ),
    CrashPattern(
        "RD103",
        _p(r"target -?\d+ is out of bounds|out of bounds|device-side assert"),
        ("loss",),
    ),
    CrashPattern(
        "RD104",
        _p(
            r"expected (target )?(scalar type|dtype) .*(long|float)|expected floating point type for target"
            r"|can't be cast to the desired output type|multi-target not supported|found dtype \w+ but expected"
        ),
        ("loss", "backward"),
    ),
    CrashPattern(
        "RD303",
        _p(r"all elements of (input|target) should be between 0 and 1"),
        ("loss",),
    ),
    CrashPattern(
        "RD212",
        _p(r"backward through the graph a second time"),
        ("backward", "train_step"),
    ),
    CrashPattern(
        "RD305",
        _p(r"expected target size"),
        ("loss",),
    ),
    CrashPattern(
        "RD304",
        _p(
            r"target size .* must be the same as input size|must match the size of tensor|size mismatch"
            r"|expected input batch_size"
        ),
        ("loss",),
    ),
)


def diagnose_crash(stage: str, error: BaseException, check: str = "") -> Finding:
    """The finding for a crash of the user's code at ``stage``: a known cause, or RD001 quoting the error."""
    text = f"{type(error).__name__}: {error}"
    evidence = {"stage": stage, "error": first_line(text), "exception": type(error).__name__, "at": user_frame(error)}
    for pattern in PATTERNS:
        if stage in pattern.stages and pattern.pattern.search(text):
            words = {"stage_words": _stage_words(stage)}
            finding = get_rule(pattern.code).verdict(evidence, words, variant="crash", confidence=0.9, check=check)
            finding.from_crash = True
            return finding
    where = f" at {evidence['at']}" if evidence["at"] else ""
    words = {"stage_words": _stage_words(stage), "where": where, "line": where or " that raised"}
    finding = get_rule("RD001").verdict(evidence, words, confidence=0.6, check=check)
    finding.from_crash = True
    return finding


def unusable_data_finding(cause: str, check: str = "", split: str = "train") -> Finding:
    """RD002: the data gives no batch a check could use (the training data: no verdict at all)."""
    variant = None if split == "train" else "validation"
    return get_rule("RD002").verdict({"cause": cause, "split": split}, variant=variant, check=check)


def _stage_words(stage: str) -> str:
    return {
        "forward": "model's forward pass",
        "loss": "loss function",
        "backward": "backward pass",
        "train_step": "training step",
        "train_data": "training data loader",
        "val_data": "validation data loader",
    }.get(stage, stage.replace("_", " "))


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD001",
        message="The {stage_words} raised {error}{where}. Checks that need this stage could not run.",
        remedy="Reproduce it on one batch (`batch = next(iter(train_loader))`) and fix the line{line}.",
        variants={
            "out_of_memory": Wording(
                message="The {check} check ran out of {device_type} memory{where}: {error}",
                remedy=(
                    "Reduce the batch size, the sequence length or the hidden size, or run on a device with more "
                    "memory."
                ),
            ),
            "out_of_memory_smaller_batch": Wording(
                message=(
                    "The {check} check ran out of {device_type} memory{where}; a batch of {fitting_batch_size} fits: "
                    "{error}"
                ),
                remedy=(
                    "Use batches of at most {fitting_batch_size} (or accumulate gradients over {steps} smaller "
                    "batches), shorten the sequences, or reduce the hidden size."
                ),
            ),
        },
        title="the user's code raised an error during a check",
        severity=Severity.ERROR,
        what=(
            "Runs the model, loss, data loader and training step on sampled batches; when one of them raises "
            "and the message matches no known cause (such as an input-size mismatch), the error itself is "
            "reported with the stage it happened in and the line of your code that raised it."
        ),
        why=(
            "A setup that crashes on its first batches cannot train at all, and the checks that need that "
            "stage cannot measure anything until the crash is fixed."
        ),
        symptoms="The training script stops with a traceback on the first batch or the first epoch.",
        fix=(
            "Read the quoted error and the file and line given in the evidence; run that stage by hand on one "
            "batch (next(iter(loader))) to reproduce it."
        ),
        before=snippet(
            """
            def forward(self, x):
                out, _ = self.lstm(x)
                return self.head(out[:, -1]).view(self.batch_size, -1)  # fails on the last, smaller batch
            """
        ),
        after=snippet(
            """
            def forward(self, x):
                out, _ = self.lstm(x)
                return self.head(out[:, -1])
            """
        ),
    ),
    Rule(
        code="RD002",
        message="No usable batches: {cause}. Nothing can be trained or checked on this data.",
        remedy=(
            "Make the loader yield (inputs, targets) or (inputs, targets, lengths) tuples, or dicts with those keys; "
            "for dicts with other keys set `batch_keys: {{inputs: input_ids, targets: labels}}` in the config; "
            "for another layout give `forward: steps.py:forward_batch` (a fn(model, batch) -> (outputs, targets))."
        ),
        variants={
            "validation": Wording(
                message="No usable batches: {cause}. Checks that compare training with validation cannot run."
            ),
        },
        title="the data yields no usable batches",
        severity=Severity.ERROR,
        what=(
            "Draws the first batches from the training (and validation) data and reports when there are none, "
            "or when a batch is not (inputs, targets), (inputs, targets, lengths) or a dict with those keys "
            "and no forward function says how to use it."
        ),
        why=(
            "An empty loader trains nothing: every epoch ends at once and the weights never change. A batch in "
            "an unexpected layout means the model is called with the wrong arguments."
        ),
        symptoms=(
            "Epochs that finish instantly with no loss printed, or a loss that is never computed; a DataLoader "
            "with drop_last=True and a batch size larger than the dataset."
        ),
        fix=(
            "Make the loader yield (inputs, targets[, lengths]) batches (check len(loader) > 0, drop_last, the "
            "dataset's filters), or give `forward: steps.py:forward_batch` in the config for another layout."
        ),
        before=snippet(
            """
            loader = DataLoader(dataset, batch_size=256, drop_last=True)  # only 200 samples
            """
        ),
        after=snippet(
            """
            loader = DataLoader(dataset, batch_size=32, shuffle=True)
            assert len(loader) > 0
            """
        ),
    ),
)

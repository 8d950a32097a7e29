"""Turn an exception raised by the user's code into the finding that explains it.

The error message torch gives is usually precise but phrased for torch developers; the finding names
the cause in the user's terms and keeps the original message as evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rnndoctor.findings import Finding
from rnndoctor.registry import make_finding
from rnndoctor.tracebacks import first_line, user_frame


@dataclass(frozen=True)
class CrashPattern:
    code: str
    pattern: re.Pattern[str]
    stages: tuple[str, ...]
    cause: str
    fix: str


def _p(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)


PATTERNS: tuple[CrashPattern, ...] = (
    CrashPattern(
        "RD201",
        _p(r"input\.size\(-1\) must be equal to input_size|input_size.*expected \d+, got \d+"),
        ("forward",),
        "the inputs' feature size does not match the RNN's input_size",
        "Make the RNN's input_size equal the last axis of the inputs (`nn.LSTM(input_size=x.shape[-1], ...)`).",
    ),
    CrashPattern(
        "RD109",
        _p(r"index out of range in self|device-side assert"),
        ("forward",),
        "a token id is outside the embedding table",
        "Size nn.Embedding to the vocabulary (num_embeddings = max id + 1) or map unknown tokens to <unk>.",
    ),
    CrashPattern(
        "RD103",
        _p(r"target -?\d+ is out of bounds|out of bounds|device-side assert"),
        ("loss",),
        "a class id is outside the range of classes the model outputs",
        "Make the output layer as wide as the number of classes, or remap labels to 0..C-1.",
    ),
    CrashPattern(
        "RD104",
        _p(
            r"expected (target )?(scalar type|dtype) .*(long|float)|expected floating point type for target"
            r"|can't be cast to the desired output type|multi-target not supported|found dtype \w+ but expected"
        ),
        ("loss", "backward"),
        "the targets' dtype or layout does not fit the loss",
        "Give class-index losses int64 ids of shape (N,), and BCE/regression losses float targets.",
    ),
    CrashPattern(
        "RD303",
        _p(r"all elements of (input|target) should be between 0 and 1"),
        ("loss",),
        "the loss expects probabilities but got unbounded scores",
        "Use nn.BCEWithLogitsLoss on raw scores instead of nn.BCELoss.",
    ),
    CrashPattern(
        "RD212",
        _p(r"backward through the graph a second time"),
        ("backward", "train_step"),
        "a hidden state kept from an earlier batch still points into that batch's freed graph",
        "Detach the carried state at the start of each batch: `self.hidden = tuple(h.detach() for h in self.hidden)`.",
    ),
    CrashPattern(
        "RD305",
        _p(r"expected target size"),
        ("loss",),
        "the loss reads the class scores from the wrong axis",
        "Put the class axis second for per-timestep losses: `loss_fn(logits.permute(0, 2, 1), targets)`.",
    ),
    CrashPattern(
        "RD304",
        _p(
            r"target size .* must be the same as input size|must match the size of tensor|size mismatch"
            r"|expected input batch_size"
        ),
        ("loss",),
        "the outputs and targets have different shapes",
        "Make outputs and targets the same shape, e.g. `outputs.squeeze(-1)` for one output per sample.",
    ),
)


def diagnose_crash(stage: str, error: BaseException, check: str = "") -> Finding:
    """The finding for a crash of the user's code at ``stage``: a known cause, or RD001 quoting the error."""
    text = f"{type(error).__name__}: {error}"
    evidence = {"stage": stage, "error": first_line(text), "exception": type(error).__name__, "at": user_frame(error)}
    for pattern in PATTERNS:
        if stage in pattern.stages and pattern.pattern.search(text):
            finding = make_finding(
                pattern.code,
                f"The {_stage_words(stage)} raised an error: {pattern.cause}. {first_line(text)}",
                pattern.fix,
                evidence,
                confidence=0.9,
                check=check,
            )
            finding.from_crash = True
            return finding
    where = f" at {evidence['at']}" if evidence["at"] else ""
    finding = make_finding(
        "RD001",
        f"The {_stage_words(stage)} raised {first_line(text)}{where}. Checks that need this stage could not run.",
        f"Reproduce it on one batch (`batch = next(iter(train_loader))`) and fix the line{where or ' that raised'}.",
        evidence,
        confidence=0.6,
        check=check,
    )
    finding.from_crash = True
    return finding


def unusable_data_finding(cause: str, check: str = "") -> Finding:
    """RD002: the data gives no batch a check could use."""
    return make_finding(
        "RD002",
        f"No usable batches: {cause}. Nothing can be trained or checked on this data.",
        "Make the loader yield (inputs, targets) or (inputs, targets, lengths) tuples, or dicts with those keys; "
        "for dicts with other keys set `batch_keys: {inputs: input_ids, targets: labels}` in the config; "
        "for another layout give `forward: steps.py:forward_batch` (a fn(model, batch) -> (outputs, targets)).",
        {"cause": cause},
        check=check,
    )


def _stage_words(stage: str) -> str:
    return {
        "forward": "model's forward pass",
        "loss": "loss function",
        "backward": "backward pass",
        "train_step": "training step",
        "train_data": "training data loader",
        "val_data": "validation data loader",
    }.get(stage, stage.replace("_", " "))

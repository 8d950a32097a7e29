"""Which series of a training log are the train and validation loss and accuracy.

Logs name them every way people write them: ``train_loss`` (Lightning), ``Loss/train`` and ``Loss/test``
(PyTorch's TensorBoard docs), ``training loss`` (PyTorch's TensorBoard tutorial), ``run-3 - train/loss``
(a Weights & Biases CSV export), ``loss`` and ``eval_loss`` (Hugging Face). Names are compared after
`normalized`; a name on no list is still read when its words say what it is (`by_words`); the user can name
the series outright (``--train``, ``--val``). Whatever is not read is listed in the report, never dropped
silently.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rnndoctor.setup.errors import SetupError

METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "train_loss": (
        "train_loss_epoch",
        "train/loss_epoch",
        "train/epoch_loss",
        "train_loss",
        "train/loss",
        "loss/train",
        "loss_train/loss",
        "training_loss",
        "training/loss",
        "loss/training",
        "trn_loss",
        "loss",
    ),
    "val_loss": (
        "val_loss_epoch",
        "val/loss_epoch",
        "validation/epoch_loss",
        "val_loss",
        "val/loss",
        "loss/val",
        "loss_val/loss",
        "validation_loss",
        "validation/loss",
        "loss/validation",
        "loss_validation/loss",
        "valid_loss",
        "valid/loss",
        "loss/valid",
        "eval_loss",
        "eval/loss",
        "test_loss",
        "test/loss",
        "loss/test",
    ),
    "train_acc": (
        "train_acc_epoch",
        "train/acc_epoch",
        "train/epoch_accuracy",
        "train_acc",
        "train/acc",
        "train_accuracy",
        "train/accuracy",
        "accuracy/train",
        "acc/train",
        "accuracy",
        "acc",
    ),
    "val_acc": (
        "val_acc_epoch",
        "val/acc_epoch",
        "validation/epoch_accuracy",
        "val_acc",
        "val/acc",
        "val_accuracy",
        "val/accuracy",
        "accuracy/val",
        "acc/val",
        "validation_accuracy",
        "validation/accuracy",
        "valid_acc",
        "eval_accuracy",
        "eval/accuracy",
        "test_acc",
        "test_accuracy",
        "test/accuracy",
        "accuracy/test",
    ),
}
"""The names a metric goes by in logs (as `normalized` writes them), most specific first: an epoch-level
series beats the per-step one it summarizes, a validation split beats a test split, and a bare ``loss``
(Keras, Hugging Face) is the training loss only when nothing says more."""

METRIC_LABELS = {
    "train_loss": "train loss",
    "val_loss": "validation loss",
    "train_acc": "train accuracy",
    "val_acc": "validation accuracy",
}

EPOCH_NAMES = ("epoch", "epochs", "train/epoch")
"""Series or columns that give the epoch of each logged step (Lightning logs ``epoch`` beside every metric,
Hugging Face ``train/epoch`` as a fraction)."""

STEP_NAMES = ("step", "global_step", "steps", "_step")
"""Columns that give the step of each row (``_step`` in a Weights & Biases history export)."""

_SPLIT_WORDS = {
    "train": frozenset({"train", "training", "trn"}),
    "val": frozenset({"val", "valid", "validation", "eval", "evaluation", "test", "dev", "holdout"}),
}
_METRIC_WORDS = {"loss": frozenset({"loss"}), "acc": frozenset({"acc", "accuracy"})}
_NOT_A_CURVE = frozenset({"min", "max", "std", "stderr", "var", "lr", "learning", "rate", "runtime", "time"})
"""Words that make a series something other than the metric itself: a Weights & Biases ``__MIN``/``__MAX``
band, a spread, a learning rate, a duration."""


def normalized(name: str) -> str:
    """A log's name for a series, compared case-insensitively, with spaces and dashes as underscores and
    a Weights & Biases run prefix (``my-run - train/loss``) dropped."""
    text = name.strip()
    if " - " in text:
        text = text.rsplit(" - ", 1)[1]
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def words(name: str) -> set[str]:
    return set(re.findall(r"[a-z]+", normalized(name)))


def by_words(metric: str, names: Sequence[str]) -> str | None:
    """The series whose words name ``metric`` (``mean training loss``, ``Loss (validation)``) when no name on
    the lists matched: one split word, the metric's word, nothing that makes it another quantity; the
    shortest such name."""
    split, kind = metric.split("_")
    other = "val" if split == "train" else "train"
    found = [
        name
        for name in names
        if (w := words(name)) & _SPLIT_WORDS[split]
        and w & _METRIC_WORDS[kind]
        and not w & _SPLIT_WORDS[other]
        and not w & _NOT_A_CURVE
    ]
    return min(found, key=lambda name: (len(name), name)) if found else None


def looks_like(name: str) -> str | None:
    """What an unread series seems to be (``a loss``, ``an accuracy``), to say so beside its name."""
    w = words(name)
    if w & _NOT_A_CURVE:
        return None
    if w & _METRIC_WORDS["loss"]:
        return "a loss"
    if w & _METRIC_WORDS["acc"]:
        return "an accuracy"
    return None


@dataclass
class Choice:
    """The series picked for each metric, and what the log holds besides."""

    read: dict[str, str] = field(default_factory=dict)
    """The log's name of each metric read, by metric key (``train_loss``)."""
    unread: list[str] = field(default_factory=list)
    """Every other numeric series of the log, in the log's order."""
    notes: list[str] = field(default_factory=list)


def pick_series(names: Sequence[str], train: str | None = None, val: str | None = None) -> Choice:
    """The series each metric is read from: ``train``/``val`` when the user named them (``--train``,
    ``--val``), else the first name of `METRIC_NAMES` the log has, else a name whose words say it."""
    choice = Choice()
    for metric, wanted, option in (("train_loss", train, "--train"), ("val_loss", val, "--val")):
        if wanted is not None:
            choice.read[metric] = named(names, wanted, option)
    taken = set(choice.read.values())
    for metric, candidates in METRIC_NAMES.items():
        if metric in choice.read:
            continue
        free = [name for name in names if name not in taken]
        keys: dict[str, str] = {}
        for free_name in free:
            keys.setdefault(normalized(free_name), free_name)
        found = next((keys[c] for c in candidates if c in keys), None) or by_words(metric, free)
        if found is None:
            continue
        choice.read[metric] = found
        taken.add(found)
        twins = [other for other in free if other != found and normalized(other) == normalized(found)]
        if twins:
            choice.notes.append(
                f"{len(twins) + 1} series are called {normalized(found)} ({', '.join([found, *twins])}): the first "
                f"is read as the {METRIC_LABELS[metric]}; name another with "
                f"{'--train' if metric == 'train_loss' else '--val' if metric == 'val_loss' else 'its own log'}"
            )
    choice.read = {metric: choice.read[metric] for metric in METRIC_NAMES if metric in choice.read}
    choice.unread = [name for name in names if name not in taken]
    return choice


def named(names: Sequence[str], wanted: str, option: str) -> str:
    """The series the user named: the exact name, else the one name equal to it up to case, spaces and a
    run prefix; otherwise a setup error listing the log's names."""
    if wanted in names:
        return wanted
    for compare in (str.lower, normalized):
        matches = [name for name in names if compare(name) == compare(wanted)]
        if len(matches) == 1:
            return matches[0]
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(repr(name) for name in names) or "none"
    raise SetupError(f"{option} {wanted!r}: the log has no series of that name{hint} (it has {listed})")

"""Pure judgements of the data checks: measured numbers in, findings out. No torch here.

Each function documents the threshold it applies; the thresholds themselves live in defaults.yaml.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnndoctor.core.catalogue import Rule, Wording, get_rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.registry import judges
from rnndoctor.runtime.modality import IMAGES, SIGNALS, TABULAR, looks_like_raw_pixels


@dataclass
class LabelStats:
    """Class counts over a split's sampled targets."""

    task_kind: str
    counts: dict[int, int]
    num_classes: int | None = None
    loss: str = ""
    sample: str = ""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class RangeStats:
    """Class ids compared with the number of classes the model outputs."""

    num_classes: int
    min_id: int
    max_id: int
    out_of_range: int
    total: int
    ignore_index: int | None = None
    loss: str = ""


@dataclass
class FeatureStats:
    """Per-feature moments of float inputs over valid (non-padded) positions."""

    count: int
    mean: list[float]
    std: list[float]
    minimum: float
    maximum: float
    input_name: str = "inputs"
    shape: tuple[int, ...] = ()
    modality: str = "sequences"
    """images, tabular, signals or sequences (`rnndoctor.runtime.modality`): what a feature is, and the fix's shape."""
    integral: bool = False
    """Every value a whole number (8-bit pixels, counts)."""
    dtype: str = ""


@dataclass
class PaddingStats:
    lengths: list[int]
    max_steps: int
    source: str
    """Where the lengths came from: explicit lengths, a padding token, or trailing zero steps."""

    @property
    def padding_share(self) -> float:
        total = self.max_steps * len(self.lengths)
        return 1.0 - sum(self.lengths) / total if total else 0.0


@dataclass
class LeakStats:
    val_samples: int
    train_samples: int
    overlap: int
    train_duplicate_share: float
    train_coverage: float | None
    examples: list[int] = field(default_factory=list)


MIN_SINGLE_CLASS_SAMPLES = 8
"""The default of the labels check's ``min_single_class_samples`` option."""


@judges("labels", "label_stats")
def judge_single_class(stats: LabelStats, options: Mapping[str, Any] | None = None) -> list[Finding]:
    """RD101: every sampled target is the same class although the model can output several (judged on at
    least ``min_single_class_samples`` targets). Registered for the labels check's published label counts."""
    min_samples = int((options or {}).get("min_single_class_samples", MIN_SINGLE_CLASS_SAMPLES))
    if stats.total < min_samples or len(stats.counts) != 1:
        return []
    ((label, count),) = stats.counts.items()
    classes = stats.num_classes
    if classes is not None and classes < 2:
        return []
    evidence = {"class": label, "count": count, "distinct_classes": 1, "num_classes": classes, "task": stats.task_kind}
    outputs = f", although the model outputs {classes} classes." if classes else "."
    return [get_rule("RD101").verdict(evidence, {"sample": stats.sample, "outputs": outputs})]


def judge_imbalance(stats: LabelStats, ratio_threshold: float, min_per_class: int) -> list[Finding]:
    """RD102: the majority class outnumbers the minority by ``ratio_threshold`` or more.

    Judged only when the sample holds at least ``min_per_class`` targets per observed class on
    average; with fewer, a rare class's count is mostly sampling noise.
    """
    if len(stats.counts) < 2:
        return []
    if stats.total < min_per_class * len(stats.counts):
        return []
    majority, majority_count = max(stats.counts.items(), key=lambda kv: (kv[1], -kv[0]))
    minority, minority_count = min(stats.counts.items(), key=lambda kv: (kv[1], kv[0]))
    ratio = majority_count / minority_count
    if ratio < ratio_threshold:
        return []
    majority_share = majority_count / stats.total
    minority_share = minority_count / stats.total
    severity = Severity.INFO if stats.task_kind == "per-timestep tagging" else None
    evidence = {
        "majority_class": majority,
        "majority_share": majority_share,
        "minority_class": minority,
        "minority_share": minority_share,
        "ratio": ratio,
        "counts": dict(sorted(stats.counts.items())),
        "samples": stats.total,
    }
    return [
        get_rule("RD102").verdict(
            evidence,
            {"loss": stats.loss or "CrossEntropyLoss"},
            severity=severity,
            confidence=min(1.0, 0.5 + math.log10(ratio / ratio_threshold + 1)),
        )
    ]


def judge_class_range(stats: RangeStats) -> list[Finding]:
    """RD103: class ids below 0 or at/above the number of classes the model outputs."""
    if stats.out_of_range == 0:
        return []
    one_based = stats.min_id >= 1 and stats.max_id == stats.num_classes
    evidence = {
        "num_classes": stats.num_classes,
        "min_id": stats.min_id,
        "max_id": stats.max_id,
        "out_of_range": stats.out_of_range,
        "targets": stats.total,
        "one_based": one_based,
    }
    negative = (
        f"\n\nNegative ids are only allowed as the loss's ignore_index (currently {stats.ignore_index})."
        if stats.min_id < 0
        else ""
    )
    words = {"loss": stats.loss or "the loss", "last_id": stats.num_classes - 1, "negative": negative}
    return [get_rule("RD103").verdict(evidence, words, variant="one_based" if one_based else None)]


def shift_p_value(train_units: np.ndarray, val_units: np.ndarray, permutations: int, seed: int) -> float:
    """How often two samples drawn from the pooled units differ by at least the observed total-variation
    distance: a permutation test. A unit is one row of class counts (a sample, or a whole batch when the
    targets are per step and positions within a sequence are not independent)."""
    pooled = np.concatenate([train_units, val_units]).astype(np.float64)
    n_train = len(train_units)
    if n_train == 0 or len(val_units) == 0:
        return 1.0

    def tvd(train_sum: np.ndarray, val_sum: np.ndarray) -> np.ndarray:
        p = train_sum / train_sum.sum(axis=-1, keepdims=True).clip(min=1e-12)
        q = val_sum / val_sum.sum(axis=-1, keepdims=True).clip(min=1e-12)
        distance: np.ndarray = 0.5 * np.abs(p - q).sum(axis=-1)
        return distance

    observed = tvd(train_units.sum(axis=0), val_units.sum(axis=0))
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((permutations, len(pooled))), axis=1)
    picked = np.zeros((permutations, len(pooled)))
    np.put_along_axis(picked, order[:, :n_train], 1.0, axis=1)
    train_sums = picked @ pooled
    val_sums = pooled.sum(axis=0) - train_sums
    extreme = int((tvd(train_sums, val_sums) >= observed - 1e-12).sum())
    return (1 + extreme) / (1 + permutations)


def judge_label_shift(
    train: LabelStats, val: LabelStats, tvd_threshold: float, p_threshold: float, p_value: float | None = None
) -> list[Finding]:
    """RD110: train and validation class frequencies differ by a total-variation distance of at least
    ``tvd_threshold``, and that difference is beyond sampling noise: ``p_value`` (from `shift_p_value`,
    else a chi-square homogeneity test) at most ``p_threshold``."""
    classes = sorted(set(train.counts) | set(val.counts))
    if len(classes) < 2 or train.total == 0 or val.total == 0:
        return []
    p_train = [train.counts.get(c, 0) / train.total for c in classes]
    p_val = [val.counts.get(c, 0) / val.total for c in classes]
    tvd = 0.5 * sum(abs(a - b) for a, b in zip(p_train, p_val, strict=False))
    if p_value is None:
        statistic, dof = _chi_square_homogeneity(
            [train.counts.get(c, 0) for c in classes], [val.counts.get(c, 0) for c in classes]
        )
        p_value = chi_square_survival(statistic, dof)
    if tvd < tvd_threshold or p_value > p_threshold:
        return []
    biggest = max(range(len(classes)), key=lambda i: abs(p_train[i] - p_val[i]))
    only_val = [c for c in classes if train.counts.get(c, 0) == 0]
    evidence = {
        "total_variation": tvd,
        "p_value": p_value,
        "train_distribution": dict(zip(classes, p_train, strict=False)),
        "val_distribution": dict(zip(classes, p_val, strict=False)),
    }
    words = {
        "gap_class": classes[biggest],
        "gap_train": p_train[biggest],
        "gap_val": p_val[biggest],
        "only_val": f" Classes {only_val} appear in validation but not in the training sample." if only_val else "",
    }
    return [get_rule("RD110").verdict(evidence, words)]


def judge_regression_shift(
    train_mean: float, train_std: float, val_mean: float, val_std: float, smd_threshold: float
) -> list[Finding]:
    """RD110 for regression: standardized mean difference of the targets of at least ``smd_threshold``."""
    pooled = math.sqrt((train_std**2 + val_std**2) / 2)
    if pooled == 0 or not math.isfinite(pooled):
        return []
    smd = abs(train_mean - val_mean) / pooled
    if smd < smd_threshold:
        return []
    evidence = {"train_mean": train_mean, "train_std": train_std, "val_mean": val_mean, "val_std": val_std, "smd": smd}
    return [get_rule("RD110").verdict(evidence, variant="regression")]


def judge_scales(stats: FeatureStats, max_abs_mean: float, max_std: float, std_ratio: float) -> list[Finding]:
    """RD106: a feature's |mean| above ``max_abs_mean`` or std above ``max_std``, or standard
    deviations across varying features that differ by ``std_ratio`` or more."""
    if stats.count < 2 or not stats.std:
        return []
    worst_mean = max(range(len(stats.mean)), key=lambda i: abs(stats.mean[i]))
    worst_std = max(range(len(stats.std)), key=lambda i: stats.std[i])
    varying = [s for s in stats.std if s > 0]
    ratio = max(varying) / min(varying) if len(varying) >= 2 else 1.0
    word = {IMAGES: "channel", SIGNALS: "channel", TABULAR: "column"}.get(stats.modality, "feature")
    reasons = []
    if abs(stats.mean[worst_mean]) > max_abs_mean:
        reasons.append(f"{word} {worst_mean} has mean {stats.mean[worst_mean]:.4g}")
    if stats.std[worst_std] > max_std:
        reasons.append(f"{word} {worst_std} has standard deviation {stats.std[worst_std]:.4g}")
    if ratio >= std_ratio:
        reasons.append(f"{word} scales differ by a factor of {ratio:.3g}")
    if not reasons:
        return []
    where = f"{stats.input_name} {list(stats.shape)}" if stats.shape else stats.input_name
    evidence = {
        "max_abs_mean": abs(stats.mean[worst_mean]),
        "worst_mean_feature": worst_mean,
        "max_std": stats.std[worst_std],
        "worst_std_feature": worst_std,
        "std_ratio": ratio,
        "min_value": stats.minimum,
        "max_value": stats.maximum,
        "features": len(stats.std),
        "positions": stats.count,
        "modality": stats.modality,
    }
    words: dict[str, object] = {"reasons": "; ".join(reasons), "where": where}
    if stats.modality == IMAGES:
        raw = looks_like_raw_pixels(stats.minimum, stats.maximum, stats.integral)
        evidence["raw_pixels"] = raw
        scale = 255.0 if raw else 1.0
        words["pixels"] = (": raw 0-255 pixel values, never divided by 255" if raw else "") + (
            f" (the tensors are {stats.dtype})" if stats.dtype == "torch.uint8" else ""
        )
        words["means"] = _rounded([m / scale for m in stats.mean])
        words["stds"] = _rounded([max(v, 1e-8) / scale for v in stats.std])
        words["raw_means"] = _rounded(stats.mean)
        words["convert"] = "x.float() / 255" if raw else "x.float()"
        words["to_tensor"] = "transforms.ToTensor() (which divides 8-bit pixels by 255), then " if raw else ""
    variant = stats.modality if stats.modality in (IMAGES, TABULAR, SIGNALS) else None
    return [get_rule("RD106").verdict(evidence, words, variant=variant)]


def _rounded(values: list[float]) -> str:
    shown = ", ".join(f"{v:.3g}" for v in values[:8])
    return f"[{shown}{', ...' if len(values) > 8 else ''}]"


def judge_constant_features(stats: FeatureStats, tolerance: float) -> list[Finding]:
    """RD107: features whose standard deviation over the sample is at most ``tolerance``."""
    if stats.count < 2:
        return []
    constant = [i for i, s in enumerate(stats.std) if s <= tolerance]
    if not constant:
        return []
    values = [stats.mean[i] for i in constant]
    all_constant = len(constant) == len(stats.std)
    shown = ", ".join(f"{i} (= {v:.4g})" for i, v in list(zip(constant, values, strict=False))[:8])
    more = f" and {len(constant) - 8} more" if len(constant) > 8 else ""
    harm = (
        ": every input is the same, so the model cannot learn anything from it."
        if all_constant
        else " and only waste parameters; if they should vary, the preprocessing lost them."
    )
    evidence = {"constant_features": constant, "values": values, "features": len(stats.std), "positions": stats.count}
    return [
        get_rule("RD107").verdict(
            evidence,
            {"count": len(constant), "shown": shown + more, "harm": harm},
            severity=Severity.WARNING if all_constant else None,
            explains=("RD506",) if all_constant else (),
        )
    ]


def judge_padding(stats: PaddingStats, max_share: float, max_ratio: float) -> list[Finding]:
    """RD108: padding above ``max_share`` of the positions, or longest/shortest length above ``max_ratio``."""
    lengths = [n for n in stats.lengths if n > 0]
    if len(lengths) < 2 or stats.max_steps == 0:
        return []
    share = stats.padding_share
    ratio = max(lengths) / min(lengths)
    if share <= max_share and ratio <= max_ratio:
        return []
    ordered = sorted(lengths)
    median = ordered[len(ordered) // 2]
    evidence = {
        "padding_share": share,
        "min_length": min(lengths),
        "median_length": median,
        "max_length": max(lengths),
        "padded_length": stats.max_steps,
        "length_ratio": ratio,
        "source": stats.source,
    }
    return [get_rule("RD108").verdict(evidence)]


def judge_token_range(
    max_id: int, min_id: int, num_embeddings: int, module: str, out_of_range: int, total: int
) -> list[Finding]:
    """RD109: token ids at or above the embedding table size, or negative."""
    if out_of_range == 0:
        return []
    evidence = {
        "max_id": max_id,
        "min_id": min_id,
        "num_embeddings": num_embeddings,
        "module": module,
        "out_of_range": out_of_range,
        "tokens": total,
    }
    words = {"last_id": num_embeddings - 1, "attribute": module or "embedding"}
    return [get_rule("RD109").verdict(evidence, words)]


def judge_non_finite(name: str, nan: int, inf: int, total: int) -> list[Finding]:
    """RD105: any NaN or infinite value; a single one turns the loss and every gradient into NaN."""
    if nan == 0 and inf == 0:
        return []
    return [get_rule("RD105").verdict({"where": name, "nan": nan, "inf": inf, "values": total})]


def judge_leakage(stats: LeakStats, min_share: float, min_duplicates: int, chance_factor: float) -> list[Finding]:
    """RD111: validation samples that also appear in training, beyond what chance collisions explain."""
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
    return [get_rule("RD111").verdict(evidence)]


def _chi_square_homogeneity(a: list[int], b: list[int]) -> tuple[float, int]:
    total_a, total_b = sum(a), sum(b)
    total = total_a + total_b
    statistic = 0.0
    used = 0
    for x, y in zip(a, b, strict=False):
        column = x + y
        if column == 0:
            continue
        used += 1
        for observed, row_total in ((x, total_a), (y, total_b)):
            expected = row_total * column / total
            statistic += (observed - expected) ** 2 / expected
    return statistic, max(used - 1, 1)


def chi_square_survival(statistic: float, dof: int) -> float:
    """P(X >= statistic) for a chi-square variable, via the regularized upper incomplete gamma."""
    if statistic <= 0:
        return 1.0
    return _gamma_upper_regularized(dof / 2.0, statistic / 2.0)


def _gamma_upper_regularized(a: float, x: float) -> float:
    if x < a + 1:
        term = 1.0 / a
        total = term
        n = a
        for _ in range(500):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        lower = total * math.exp(-x + a * math.log(x) - math.lgamma(a))
        return max(0.0, 1.0 - lower)
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)


@dataclass
class TargetEncoding:
    """How one batch's targets are stored, next to what the loss expects."""

    loss: str
    family: str
    dtype: str
    is_float: bool
    integer_valued: bool
    target_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    min_value: float
    max_value: float
    one_hot: bool = False


def judge_target_encoding(enc: TargetEncoding) -> list[Finding]:
    """RD104: the targets' dtype or layout cannot work with the loss (most of these crash in torch)."""
    problem = _encoding_problem(enc)
    if problem is None:
        return []
    evidence = {
        "loss": enc.loss,
        "target_dtype": enc.dtype,
        "target_shape": list(enc.target_shape),
        "output_shape": list(enc.output_shape) if enc.output_shape else None,
        "target_min": enc.min_value,
        "target_max": enc.max_value,
    }
    outputs = f" for outputs of shape {list(enc.output_shape)}" if enc.output_shape else ""
    return [get_rule("RD104").verdict(evidence, {"outputs": outputs}, variant=problem or None)]


def _encoding_problem(enc: TargetEncoding) -> str | None:
    """The RD104 wording that names what is wrong with the targets: a variant's name, "" for the rule's own
    (class ids stored as floats), None when the targets fit the loss."""
    same_shape = enc.output_shape is not None and enc.target_shape == enc.output_shape
    if enc.family == "index":
        if same_shape and enc.one_hot and (not enc.is_float or enc.loss == "NLLLoss"):
            return "one_hot"
        if same_shape and not enc.is_float:
            return "int_probabilities"
        if (
            enc.output_shape is not None
            and len(enc.target_shape) == len(enc.output_shape)
            and len(enc.target_shape) >= 2
            and enc.target_shape[-1] == 1
            and not same_shape
        ):
            return "extra_axis"
        if enc.is_float and not same_shape:
            return "" if enc.integer_valued else "real_valued"
        if not enc.is_float and enc.dtype not in ("torch.int64", "torch.uint8"):
            return "int_ids"
    if enc.family == "binary":
        if not enc.is_float:
            return "binary_int"
        if enc.min_value < 0 or enc.max_value > 1:
            return "binary_range"
    if enc.family == "regression" and not enc.is_float:
        return "regression_int"
    return None


_TARGETS = "{loss} gets targets of dtype {target_dtype} and shape {target_shape}{outputs}: "
"""The start of every RD104 message: what the loss got."""


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD101",
        checks=("labels",),
        message=(
            "All {count} sampled training targets ({sample}) are class {class}{outputs} A model that always predicts "
            "it scores 100% on this data and learns nothing; on real data that holds other classes it is wrong on "
            "all of them."
        ),
        remedy=(
            "Check the code that builds the labels: a mapping or a filter that overwrites classes (e.g. "
            "`labels[labels == 1] = 0`), a label column read from the wrong field, or a threshold that puts every "
            "sample on one side.\n\n```python\nimport collections\n"
            "print(collections.Counter(int(y) for _, y in train_dataset))\n```"
        ),
        title="all training targets are one class",
        severity=Severity.ERROR,
        what=(
            "Counts class ids over the sampled training batches, leaving out positions equal to the loss's "
            "ignore_index, and reports when every remaining target has the same value."
        ),
        why=(
            "With a single class in the data, the loss is minimised by a constant prediction that ignores "
            "the input: the output bias learns it and no weight ever receives a signal to tell inputs apart. "
            "The model looks perfect on the training set and has learned nothing. The usual causes are a "
            "label column overwritten or read from the wrong field, a filter that dropped the other classes, "
            "or a dataset sorted by label and read without shuffling, so that the first batches all share "
            "one class."
        ),
        symptoms=(
            "Training loss drops almost at once to near zero and training accuracy is 100%, yet the model "
            "predicts the same class for every input on validation or new data."
        ),
        fix=(
            "Check the label pipeline end to end (print torch.bincount of the targets) and shuffle the "
            "training loader so that every batch mixes classes."
        ),
        before=snippet(
            """
            dataset = TensorDataset(x, y)                    # rows stored sorted by label
            loader = DataLoader(dataset, batch_size=32)      # the first batches hold class 0 only
            """
        ),
        after=snippet(
            """
            dataset = TensorDataset(x, y)
            print(torch.bincount(y))                         # several classes, each with samples
            loader = DataLoader(dataset, batch_size=32, shuffle=True)
            """
        ),
        explains=("RD102", "RD307", "RD503", "RD504", "RD505", "RD506", "RD507", "RD601"),
    ),
    Rule(
        code="RD102",
        checks=("labels",),
        message=(
            "Class {majority_class} makes up {majority_share:.1%} of the sampled targets and class {minority_class} "
            "only {minority_share:.1%} ({ratio:.1f}x fewer). Predicting class {majority_class} everywhere already "
            "scores {majority_share:.1%} accuracy, so accuracy alone will hide a model that ignores the rare classes."
        ),
        remedy=(
            "Weight the loss by inverse class frequency or resample the training set, and track a balanced metric "
            "(balanced accuracy, macro F1):\n\n```python\ncounts = torch.bincount(train_targets)\n"
            "weights = counts.sum() / (len(counts) * counts.float())\nloss_fn = nn.{loss}(weight=weights)\n```"
        ),
        title="strong class imbalance",
        severity=Severity.WARNING,
        what=(
            "Counts how often each class id occurs in the sampled training batches and reports when the "
            "ratio between the most and the least frequent class, or the share of the majority class, passes "
            "a threshold."
        ),
        why=(
            "A loss averaged over samples is dominated by the frequent class, so always predicting it is a "
            "deep, easy minimum. Gradients from the rare classes are few and get outweighed in every batch, "
            "and the model may never leave the constant prediction. Plain accuracy then rewards that "
            "failure."
        ),
        symptoms=(
            "Accuracy looks good but equals the majority share (say 95%); recall on the rare classes is "
            "zero, the confusion matrix has one filled column, and macro-F1 is low."
        ),
        fix=(
            "Weight the loss by inverse class frequency (CrossEntropyLoss(weight=...)) or oversample rare "
            "classes with a WeightedRandomSampler, and track per-class recall or macro-F1 instead of "
            "accuracy."
        ),
        before=snippet(
            """
            loss_fn = nn.CrossEntropyLoss()
            loader = DataLoader(train_ds, batch_size=32, shuffle=True)   # 95% of the labels are class 0
            """
        ),
        after=snippet(
            """
            counts = torch.bincount(train_labels, minlength=num_classes).float()
            weights = counts.sum() / (num_classes * counts.clamp(min=1))
            loss_fn = nn.CrossEntropyLoss(weight=weights)
            loader = DataLoader(train_ds, batch_size=32, shuffle=True)
            """
        ),
    ),
    Rule(
        code="RD103",
        checks=("labels",),
        message=(
            "{out_of_range} of {targets} sampled targets are outside the model's output range. The ids span "
            "{min_id}..{max_id} but the model outputs {num_classes} classes (valid ids 0..{last_id}). On the CPU the "
            "loss raises 'Target out of bounds'; on CUDA it is a device-side assert."
        ),
        remedy=(
            "Size the output layer to the number of classes, or remap the labels to 0..C-1:\n\n"
            "```python\nnum_classes = int(train_targets.max()) + 1\nmodel.fc = nn.Linear(hidden_size, num_classes)\n"
            "```{negative}"
        ),
        variants={
            "one_based": Wording(
                message=(
                    "{out_of_range} of {targets} sampled targets are outside the model's output range. The ids run "
                    "from {min_id} to {max_id}: they look 1-based, while {loss} expects 0 to {last_id}. On the CPU "
                    "the loss raises 'Target out of bounds'; on CUDA it is a device-side assert."
                ),
                remedy="Shift the labels to start at 0:\n\n```python\ntargets = targets - 1\n```",
            ),
            "crash": Wording(
                message=(
                    "The {stage_words} raised an error: a class id is outside the range of classes the model outputs. "
                    "{error}"
                ),
                remedy="Make the output layer as wide as the number of classes, or remap labels to 0..C-1.",
            ),
        },
        title="class ids outside the model's output range",
        severity=Severity.ERROR,
        what=(
            "Compares the smallest and largest class id in the sampled targets with the size of the model's "
            "class axis, and reports any id that is negative (other than the loss's ignore_index) or not "
            "smaller than the number of output classes."
        ),
        why=(
            "Class-index losses such as CrossEntropyLoss and NLLLoss use the target to index the output, so "
            "an id past the end has no score to pick. On the CPU this raises; on CUDA it triggers a "
            "device-side assert that leaves the CUDA context unusable and is often reported at a later, "
            "unrelated line. The usual causes are labels numbered from 1 instead of 0, or an output layer "
            "sized for fewer classes than the data contains."
        ),
        symptoms=(
            '"IndexError: Target 10 is out of bounds" on the first batch, or "CUDA error: device-side assert '
            'triggered" that may only show up on some batches.'
        ),
        fix=(
            "Remap the labels to 0 .. C-1 (for example subtract 1 from 1-based labels) and size the final "
            "layer to the real number of classes."
        ),
        before=snippet(
            """
            num_classes = 10
            model.head = nn.Linear(hidden_size, num_classes)
            y = torch.tensor(labels)                  # labels numbered 1 .. 10
            loss = loss_fn(model(x), y)
            """
        ),
        after=snippet(
            """
            num_classes = 10
            model.head = nn.Linear(hidden_size, num_classes)
            y = torch.tensor(labels) - 1              # 0 .. 9, as the loss expects
            loss = loss_fn(model(x), y)
            """
        ),
        explains=("RD307", "RD503", "RD505"),
    ),
    Rule(
        code="RD104",
        checks=("labels",),
        message=_TARGETS + "class ids stored as floats; the loss needs int64 (long) ids.",
        remedy="Cast the targets when building the batch:\n\n```python\ntargets = targets.long()\n```",
        variants={
            "one_hot": Wording(
                message=_TARGETS + "they are one-hot rows, but the loss expects one class id per sample.",
                remedy="Turn the one-hot rows into class ids:\n\n```python\ntargets = targets.argmax(dim=1)\n```",
            ),
            "int_probabilities": Wording(
                message=(
                    _TARGETS
                    + "integer targets of the outputs' shape are read as class probabilities, which must be float."
                ),
                remedy="Give one class id per sample (`targets.argmax(dim=1)` for one-hot rows).",
            ),
            "extra_axis": Wording(
                message=_TARGETS + "the targets carry an extra axis of size 1; the loss wants shape (N,).",
                remedy="Drop the extra axis:\n\n```python\ntargets = targets.squeeze(-1).long()\n```",
            ),
            "real_valued": Wording(
                message=_TARGETS + "real-valued targets, but this loss needs integer class ids.",
                remedy=(
                    "Use a regression loss such as nn.MSELoss for real-valued targets, or convert them to class ids."
                ),
            ),
            "int_ids": Wording(
                message=_TARGETS + "the loss needs int64 (long) class ids.",
                remedy="Cast the targets:\n\n```python\ntargets = targets.long()\n```",
            ),
            "binary_int": Wording(
                message=_TARGETS + "integer targets; this loss computes in floating point and refuses integer targets.",
                remedy="Cast the targets to float:\n\n```python\ntargets = targets.float()\n```",
            ),
            "binary_range": Wording(
                message=_TARGETS + "values span {target_min:g}..{target_max:g}, but binary targets must lie in [0, 1].",
                remedy=(
                    "Map the labels to 0/1 (for -1/+1 labels: `targets = (targets > 0).float()`; for 1/2: "
                    "`targets = targets - 1`)."
                ),
            ),
            "regression_int": Wording(
                message=_TARGETS + "integer targets; the backward pass of this loss fails with a dtype error.",
                remedy="Cast the targets to the outputs' dtype:\n\n```python\ntargets = targets.float()\n```",
            ),
            "crash": Wording(
                message=(
                    "The {stage_words} raised an error: the targets' dtype or layout does not fit the loss. {error}"
                ),
                remedy="Give class-index losses int64 ids of shape (N,), and BCE/regression losses float targets.",
            ),
        },
        title="target dtype or encoding does not fit the loss",
        severity=Severity.ERROR,
        what=(
            "Checks the dtype and shape of the targets against what the configured loss expects: integer "
            "(long) class ids without a class axis for CrossEntropyLoss and NLLLoss, float targets of the "
            "output's shape for BCE losses, and floating-point values for regression losses."
        ),
        why=(
            "Each loss reads its target in one specific way. A mismatched dtype usually raises at the first "
            "loss call; a mismatched encoding can be worse, because it is silently read as something else, "
            "for example float targets with a class axis taken by CrossEntropyLoss as soft probabilities, or "
            "one-hot rows given to a loss that expects ids."
        ),
        symptoms=(
            'A RuntimeError such as "expected target dtype to be Long or Byte, but got Float" or "result '
            "type Float can't be cast to the desired output type Long\" on the first batch, or a loss value "
            "that makes no sense for the task."
        ),
        fix=(
            "Convert the targets where batches are built: .long() class ids for CrossEntropyLoss and "
            "NLLLoss, .float() values shaped like the output for BCEWithLogitsLoss and regression losses."
        ),
        before=snippet(
            """
            y = torch.tensor(labels, dtype=torch.float32)     # class ids stored as floats
            loss = nn.CrossEntropyLoss()(logits, y)
            """
        ),
        after=snippet(
            """
            y = torch.tensor(labels, dtype=torch.long)        # class ids, shape (batch,)
            loss = nn.CrossEntropyLoss()(logits, y)
            """
        ),
        explains=("RD307", "RD503", "RD505"),
    ),
    Rule(
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
    ),
    Rule(
        code="RD106",
        checks=("inputs",),
        message=(
            "The inputs are not normalized: {reasons} (values span {min_value:.4g} to {max_value:.4g} over "
            "{features} feature(s) of {where}). Large inputs saturate the tanh/sigmoid gates of an RNN at "
            "initialization, so gradients vanish and the loss stalls; features on very different scales make one "
            "dominate the updates."
        ),
        remedy=(
            "Standardize each feature with statistics of the training set (and apply the same to validation and "
            "test data):\n\n```python\nmean = train_x.mean(dim=(0, 1), keepdim=True)\n"
            "std = train_x.std(dim=(0, 1), keepdim=True).clamp_min(1e-8)\nx = (x - mean) / std\n```\n\n"
            "For prices, model returns or log-prices instead of raw values."
        ),
        variants={
            IMAGES: Wording(
                message=(
                    "The images are not normalized: {reasons} (pixel values span {min_value:.4g} to {max_value:.4g} "
                    "over {features} channel(s) of {where}){pixels}. Inputs this large drive the first layer's "
                    "activations and the logits far beyond the scale the default initialization assumes: the loss "
                    "starts high, the gradients are badly scaled and plain SGD barely moves; image models expect "
                    "each channel at mean 0 and standard deviation 1."
                ),
                remedy=(
                    "Normalize each channel with the training set's mean and standard deviation over (N, H, W), "
                    "and apply the same numbers to validation and test images:\n\n```python\n"
                    "x = {convert}  # (N, C, H, W)\n"
                    "mean = x.mean(dim=(0, 2, 3), keepdim=True)\n"
                    "std = x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)\n"
                    "x = (x - mean) / std\n```\n\n"
                    "In a torchvision pipeline: {to_tensor}"
                    "`transforms.Normalize(mean={means}, std={stds})` (this data's channel statistics)."
                ),
            ),
            TABULAR: Wording(
                message=(
                    "The input columns are not standardized: {reasons} (values span {min_value:.4g} to "
                    "{max_value:.4g} over {features} column(s) of {where}). Columns on large or very different "
                    "scales make the loss surface badly conditioned: a learning rate small enough for the large "
                    "columns is far too small for the rest, and large values saturate tanh/sigmoid units."
                ),
                remedy=(
                    "Standardize each column with the training split's statistics (and apply the same to "
                    "validation and test rows):\n\n```python\nmean = train_x.mean(dim=0, keepdim=True)\n"
                    "std = train_x.std(dim=0, keepdim=True).clamp_min(1e-8)\nx = (x - mean) / std\n```\n\n"
                    "`sklearn.preprocessing.StandardScaler` fitted on the training split does the same; "
                    "log-transform heavy-tailed columns (incomes, counts) first."
                ),
            ),
            SIGNALS: Wording(
                message=(
                    "The signals are not normalized: {reasons} (values span {min_value:.4g} to {max_value:.4g} over "
                    "{features} channel(s) of {where}). Large or unequal channel scales blow up the first "
                    "convolution's activations and make one channel dominate the updates."
                ),
                remedy=(
                    "Standardize each channel over samples and time with the training set's statistics:"
                    "\n\n```python\nmean = train_x.mean(dim=(0, 2), keepdim=True)   # (N, C, T)\n"
                    "std = train_x.std(dim=(0, 2), keepdim=True).clamp_min(1e-8)\nx = (x - mean) / std\n```"
                ),
            ),
        },
        title="inputs not normalized (large or disparate feature scales)",
        severity=Severity.WARNING,
        what=(
            "Computes the mean and standard deviation of each floating-point input feature over the sampled "
            "batches and reports when values are far from unit scale, or when the scales of different "
            "features differ by orders of magnitude."
        ),
        why=(
            "RNN gates apply sigmoid and tanh to a weighted sum of the input; large inputs push them into "
            "saturation at the first step, where their derivatives are close to zero and little gradient "
            "gets through. Features on very different scales also make the loss surface badly conditioned: a "
            "learning rate small enough for the weights of large features is far too small for the rest."
        ),
        symptoms=(
            "Loss falls very slowly or stalls early, training is touchy about the learning rate, and the "
            "loss sometimes spikes."
        ),
        fix=(
            "Standardize each feature with the mean and standard deviation of the training split, and apply "
            "the same numbers to validation and test data; log-transform heavy-tailed features first."
        ),
        before=snippet(
            """
            x_train = torch.tensor(raw_train, dtype=torch.float32)   # price ~1e4, volume ~1e7, return ~1e-3
            x_val = torch.tensor(raw_val, dtype=torch.float32)
            """
        ),
        after=snippet(
            """
            x_train = torch.tensor(raw_train, dtype=torch.float32)
            x_val = torch.tensor(raw_val, dtype=torch.float32)
            mean = x_train.mean(dim=(0, 1), keepdim=True)
            std = x_train.std(dim=(0, 1), keepdim=True).clamp(min=1e-8)
            x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
            """
        ),
        explains=(
            "RD209",
            "RD307",
            "RD401",
            "RD402",
            "RD403",
            "RD501",
            "RD502",
            "RD503",
            "RD504",
            "RD505",
            "RD506",
            "RD507",
        ),
    ),
    Rule(
        code="RD107",
        checks=("inputs",),
        message=(
            "{count} of {features} input features never change over {positions} sampled positions: {shown}. They "
            "carry no information{harm}"
        ),
        remedy=(
            "Drop the constant columns, or fix the step that fills them:\n\n"
            "```python\nkeep = train_x.flatten(0, 1).std(dim=0) > 0\nx = x[..., keep]\n```"
        ),
        title="constant input features",
        severity=Severity.INFO,
        what=(
            "Computes the standard deviation of each input feature across samples and time steps of the "
            "sampled batches and lists the features whose spread is zero, or within a tiny tolerance of it."
        ),
        why=(
            "A constant feature carries no information; its input weights only act as an extra bias. It does "
            "no harm by itself, but it often points to a bug upstream, such as a column filled with a "
            "default value or zeroed during preprocessing, and standardizing it divides by a zero standard "
            "deviation."
        ),
        symptoms=(
            "Usually nothing visible; sometimes NaN appears right after normalization, or the model is "
            "weaker than expected because a feature that should carry signal is empty."
        ),
        fix=(
            "Find out why the feature is constant and fix its source, or drop it; guard the normalization "
            "against a zero standard deviation."
        ),
        before=snippet(
            """
            mean, std = x_train.mean(dim=(0, 1)), x_train.std(dim=(0, 1))
            x_train = (x_train - mean) / std              # std is 0 for a constant column -> NaN
            """
        ),
        after=snippet(
            """
            mean, std = x_train.mean(dim=(0, 1)), x_train.std(dim=(0, 1))
            keep = std > 0                                # drop features that never change
            x_train = (x_train[..., keep] - mean[keep]) / std[keep]
            """
        ),
    ),
    Rule(
        code="RD108",
        checks=("inputs",),
        message=(
            "{padding_share:.0%} of the sampled time steps are padding (lengths {min_length} to {max_length}, median "
            "{median_length}, padded to {padded_length}; from {source}). The RNN spends most of its compute on "
            "padding, and unless every read-out and the loss are masked, padding leaks into the result."
        ),
        remedy=(
            "Bucket sequences of similar length into the same batch and pack them:\n\n"
            "```python\npacked = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,\n"
            "                                              enforce_sorted=False)\n"
            "out, (h_n, c_n) = self.lstm(packed)\n```"
        ),
        title="batches are mostly padding / extreme length spread",
        severity=Severity.INFO,
        what=(
            "Uses the batch lengths (given, or inferred from trailing padding) to compute the share of "
            "padded positions in each batch and the ratio between the longest and the shortest sequence."
        ),
        why=(
            "Padded positions cost compute and memory but carry no signal. Wherever the model or the loss "
            "does not mask them, short sequences are swamped by padding; and when lengths vary widely, a "
            "short sequence's final hidden state may have run through hundreds of pad steps before it is "
            "read."
        ),
        symptoms=(
            "Epochs are slow for the amount of data; short sequences are predicted badly; results change "
            "with the batch size or the order in which samples are batched."
        ),
        fix=(
            "Pad per batch instead of to a global maximum, group sequences of similar length into the same "
            "batch (bucketing), and pack the batch with pack_padded_sequence."
        ),
        before=snippet(
            """
            x = pad_sequence(all_seqs, batch_first=True)          # padded to the longest sequence overall
            loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
            """
        ),
        after=snippet(
            """
            def collate(batch):
                seqs, ys = zip(*batch)
                lengths = torch.tensor([len(s) for s in seqs])
                return pad_sequence(seqs, batch_first=True), torch.tensor(ys), lengths

            order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
            batches = [order[i:i + 32] for i in range(0, len(order), 32)]   # similar lengths together
            random.shuffle(batches)
            loader = DataLoader(pairs, batch_sampler=batches, collate_fn=collate)
            """
        ),
    ),
    Rule(
        code="RD109",
        checks=("inputs",),
        message=(
            "{out_of_range} of {tokens} sampled token ids fall outside the embedding table '{module}' "
            "({num_embeddings} rows, valid ids 0..{last_id}); the ids span {min_id}..{max_id}. On the CPU this raises "
            "'index out of range in self'; on CUDA a device-side assert that poisons the whole process."
        ),
        remedy=(
            "Size the embedding from the vocabulary (counting padding and unknown tokens):\n\n"
            "```python\nself.{attribute} = nn.Embedding(len(vocab), embedding_dim, padding_idx=pad_id)\n"
            "# and map unseen tokens to an <unk> id instead of a new number\n```"
        ),
        variants={
            "crash": Wording(
                message="The {stage_words} raised an error: a token id is outside the embedding table. {error}",
                remedy=(
                    "Size nn.Embedding to the vocabulary (num_embeddings = max id + 1) or map unknown tokens to <unk>."
                ),
            ),
        },
        title="token ids outside the embedding table",
        severity=Severity.ERROR,
        what=(
            "For a model whose input goes through an nn.Embedding, compares the smallest and largest token "
            "id in the sampled batches with the embedding's num_embeddings."
        ),
        why=(
            "An embedding lookup selects a row by id, and an id that is negative or not smaller than the "
            "table size has no row. It raises on the CPU and triggers a device-side assert on CUDA. Typical "
            "causes are a table sized without the special tokens (padding, unknown), or a vocabulary built "
            "on the training split and applied to validation text that holds unseen words."
        ),
        symptoms=(
            '"IndexError: index out of range in self" or a CUDA device-side assert, often only on some '
            "batches or only during validation."
        ),
        fix=(
            "Size the embedding as the full vocabulary including special tokens, and map every unknown token "
            "to a reserved <unk> id."
        ),
        before=snippet(
            """
            vocab = {tok: i + 1 for i, tok in enumerate(words)}       # 0 is kept for padding
            model.embed = nn.Embedding(len(words), 128)               # one row short
            ids = [vocab[tok] for tok in tokens]                      # unseen words raise KeyError
            """
        ),
        after=snippet(
            """
            vocab = {tok: i + 2 for i, tok in enumerate(words)}       # 0 = <pad>, 1 = <unk>
            model.embed = nn.Embedding(len(words) + 2, 128, padding_idx=0)
            ids = [vocab.get(tok, 1) for tok in tokens]
            """
        ),
        explains=("RD503", "RD505"),
    ),
    Rule(
        code="RD110",
        checks=("labels",),
        message=(
            "The label distributions differ by a total-variation distance of {total_variation:.2f}, more than two "
            "samples of one stream differ (p = {p_value:.1e}). The largest gap is class {gap_class}: "
            "{gap_train:.1%} of training targets vs {gap_val:.1%} of validation targets.{only_val} Validation "
            "scores will not reflect how the model does on the training distribution."
        ),
        remedy=(
            "Split the data with stratification so both sets hold the same class mix:\n\n"
            "```python\nfrom sklearn.model_selection import train_test_split\n"
            "train_idx, val_idx = train_test_split(indices, test_size=0.2, stratify=labels, random_state=0)\n```"
        ),
        variants={
            "regression": Wording(
                message=(
                    "Regression targets average {train_mean:.4g} (std {train_std:.4g}) in training but "
                    "{val_mean:.4g} (std {val_std:.4g}) in validation: a standardized difference of {smd:.2f}."
                ),
                remedy=(
                    "Make sure both splits come from the same period or population, or shuffle before splitting; "
                    "for time series, expect this shift and normalize with training statistics."
                ),
            )
        },
        title="train and validation label distributions differ",
        severity=Severity.WARNING,
        what=(
            "Compares the class frequencies of the sampled training and validation targets (total variation "
            "distance) and lists classes present in one split but missing from the other; for regression "
            "targets it compares the means of the two splits in units of standard deviation."
        ),
        why=(
            "Validation then measures a different problem from the one being trained, so its loss and "
            "accuracy misjudge progress, and early stopping or model selection pick the wrong model. The "
            "usual cause is a split by position in a file ordered by label or time instead of a shuffled or "
            "stratified one."
        ),
        symptoms=(
            "Validation accuracy is far from training accuracy from the first epoch on, not only late in "
            "training; validation loss stays high while training loss falls; a class shows up in validation "
            "that training never contained."
        ),
        fix=(
            "Shuffle before splitting, or split with stratification on the label; if the shift is real (the "
            "data you deploy on differs), measure it explicitly and reweight."
        ),
        before=snippet(
            """
            n_train = int(0.8 * len(ds))
            train_ds = Subset(ds, range(n_train))                 # the file is sorted by label
            val_ds = Subset(ds, range(n_train, len(ds)))
            """
        ),
        after=snippet(
            """
            from sklearn.model_selection import train_test_split

            idx = list(range(len(ds)))
            idx_train, idx_val = train_test_split(idx, test_size=0.2, stratify=labels, random_state=0)
            train_ds, val_ds = Subset(ds, idx_train), Subset(ds, idx_val)
            """
        ),
        explains=("RD601",),
    ),
    Rule(
        code="RD111",
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
    ),
)

"""RD106: inputs far from zero mean and unit scale, or features on disparate scales."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.data import FeatureStats
from rnndoctor.runtime.batches import BatchFormatError, replace_part
from rnndoctor.runtime.features import FeatureAccumulator, input_batches, valid_rows
from rnndoctor.runtime.modality import IMAGES, SEQUENCES, SIGNALS, TABULAR, input_modality, looks_like_raw_pixels
from rnndoctor.runtime.patches import model_input_edited
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.task import loss_family

RULE = Rule(
    code="RD106",
    options=(
        Option(
            "max_abs_mean",
            5.0,
            "RD106: a feature whose |mean| exceeds this is not centred",
            meaning="A feature whose absolute mean is above this is not centred.",
            guards=("RD106",),
        ),
        Option(
            "max_std",
            5.0,
            "RD106: a feature whose standard deviation exceeds this is not scaled",
            meaning="A feature whose standard deviation is above this is not scaled.",
            guards=("RD106",),
        ),
        Option(
            "std_ratio",
            1000.0,
            "RD106: largest/smallest feature standard deviation among varying features",
            meaning=(
                "Ratio of the largest to the smallest standard deviation among features that vary, above which the "
                "scales are too disparate."
            ),
            guards=("RD106",),
        ),
    ),
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
)


@judges(RULE, FeatureStats)
def unscaled(stats: FeatureStats, options: Mapping[str, Any]) -> list[Finding]:
    """A feature's |mean| above ``max_abs_mean`` or std above ``max_std``, or standard deviations across
    varying features that differ by ``std_ratio`` or more; not when the model's first layer receives them
    scaled (a model that normalizes its inputs itself)."""
    found = judge_scales(stats, options)
    if found and stats.seen_by_model is not None:
        seen = stats.seen_by_model()
        if seen is not None and not judge_scales(seen, options):
            return []
    return found


def judge_scales(stats: FeatureStats, options: Mapping[str, Any]) -> list[Finding]:
    """RD106 on one set of moments, without asking what the model receives."""
    max_abs_mean, max_std, std_ratio = (
        float(options["max_abs_mean"]),
        float(options["max_std"]),
        float(options["std_ratio"]),
    )
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
    return [RULE.finding(evidence, words, variant=variant)]


def _rounded(values: list[float]) -> str:
    shown = ", ".join(f"{v:.3g}" for v in values[:8])
    return f"[{shown}{', ...' if len(values) > 8 else ''}]"


@remedy(RULE)
def inputs_standardized(session: Session, finding: Finding) -> list[Trial] | str:
    """Inputs standardized per feature (per channel for images and signals, `uint8` pixels included) with the sampled
    batches' statistics; regression targets too when they are on a raw scale."""
    batches, layout = input_batches(session)
    features, targets = FeatureAccumulator(), FeatureAccumulator()
    for batch in batches:
        if isinstance(batch.inputs, torch.Tensor) and (
            batch.inputs.is_floating_point() or batch.inputs.dtype == torch.uint8
        ):
            inputs = batch.inputs.detach().cpu()
            sized = layout.resized(inputs) if layout is not None else None
            modality = input_modality(inputs, session.model, sized is not None and sized.steps is not None)
            values = inputs.double()
            features.add(valid_rows(values, sized, None) if modality.kind == SEQUENCES else modality.rows(values))
        if isinstance(batch.targets, torch.Tensor) and batch.targets.is_floating_point():
            targets.add(batch.targets.detach().cpu().double().reshape(-1, 1))
    stats = features.stats("inputs", ())
    if stats is None:
        return "no floating-point inputs to standardize"
    standardize = _standardizer(stats.mean, stats.std, session.model)
    patches = [model_input_edited(standardize)]
    change = f"inputs standardized per {input_word(session)} (mean and std of the sampled batches)"
    target_stats = targets.stats("targets", ())
    regression = loss_family(session.loss_name) == "regression"
    if regression and target_stats is not None and (abs(target_stats.mean[0]) > 5 or target_stats.std[0] > 5):
        # Raw prices in, raw prices out: users scale the targets with the inputs.
        scale_targets = _standardizer(target_stats.mean, target_stats.std)

        def scaled(raw: Any) -> Any:
            try:
                batch = session.unpack(raw)
            except BatchFormatError:
                return raw
            if not isinstance(batch.targets, torch.Tensor) or not batch.targets.is_floating_point():
                return raw
            return replace_part(batch, 1, scale_targets(batch.targets))

        change = "inputs and regression targets standardized (mean and std of the sampled batches)"
        return [Trial(change, patches, batch_edit=scaled)]
    return [Trial(change, patches)]


def input_word(session: Session) -> str:
    inputs = session.reference().model_input
    if not isinstance(inputs, torch.Tensor):
        return "feature"
    return input_modality(inputs, session.model, inputs.dim() > 2).feature_word


def _standardizer(
    means: list[float], stds: list[float], model: torch.nn.Module | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Standardize per feature: along the modality's feature axis (an image's channels) when ``model`` is
    given, else along the last axis."""
    mean = torch.tensor(means, dtype=torch.float64)
    std = torch.tensor([s if s > 0 else 1.0 for s in stds], dtype=torch.float64)

    def standardize(x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float()
        if not x.is_floating_point():
            return x
        axis = input_modality(x, model, x.dim() > 2).feature_axis if model is not None and x.dim() > 1 else -1
        if mean.numel() > 1 and x.shape[axis] != mean.numel():
            return x
        shape = [1] * x.dim()
        if x.dim():
            shape[axis] = mean.numel()
        centre, scale = mean.reshape(shape).to(x.device, x.dtype), std.reshape(shape).to(x.device, x.dtype)
        return (x - centre) / scale

    return standardize

"""Measurements of the data checks (labels, inputs, leakage): counts, moments, lengths and fingerprints."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnndoctor.measurements import OnDemand


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
class LabelShift:
    """The training and validation class counts, and how often random splits of the pooled samples differ as
    much as they do (a permutation test; None when not measured)."""

    train: LabelStats
    val: LabelStats
    p_value: float | None = None


@dataclass
class RegressionShift:
    """Moments of the training and validation regression targets."""

    train_mean: float
    train_std: float
    val_mean: float
    val_std: float


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
    """images, tabular, signals or sequences (`rnndoctor.runtime.modality`): what a feature is, and the fix's
    shape."""
    integral: bool = False
    """Every value a whole number (8-bit pixels, counts)."""
    dtype: str = ""
    seen_by_model: OnDemand[FeatureStats | None] | None = field(default=None, compare=False, repr=False)
    """The same moments of what the model's first recurrent (or first) layer receives, measured on demand:
    a model that normalizes its inputs itself makes raw-looking batches fine."""


@dataclass
class NonFinite:
    """NaN and infinite values counted in the sampled ``where`` (inputs or targets)."""

    where: str
    nan: int
    inf: int
    total: int


@dataclass
class TokenRange:
    """Token ids fed to the model's embedding, against the size of its table."""

    max_id: int
    min_id: int
    num_embeddings: int
    module: str
    out_of_range: int
    total: int


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

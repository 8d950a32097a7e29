"""Measurements of the model checks (structure, probes): recurrent layers as declared and as fed, and where
the input gradient of an output lands across samples and time."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RnnLayer:
    """One recurrent module as declared, and what it received in one forward pass."""

    name: str
    kind: str
    input_size: int
    hidden_size: int
    num_layers: int
    batch_first: bool
    bidirectional: bool = False
    dropout: float = 0.0
    nonlinearity: str = "tanh"
    received_features: int | None = None
    received_shape: tuple[int, ...] | None = None
    packed: bool = False
    steps: int | None = None
    cell: bool = False
    """An LSTMCell/GRUCell/RNNCell stepped by the model's own loop (one call per time step)."""
    spectral_radius: dict[str, float] = field(default_factory=dict)
    """Largest |eigenvalue| of each recurrent weight block, e.g. {"weight_hh_l0[f]": 0.6}."""


@dataclass
class UnregisteredModules:
    attribute: str
    container: str
    modules: int
    parameters: int
    registered_parameters: int


@dataclass
class FedLayer:
    """A recurrent layer after one forward pass: what it received (its shape, features and steps)."""

    layer: RnnLayer


@dataclass
class LayerAxes:
    """The first recurrent layer's input against the number of samples in the batch."""

    layer: RnnLayer
    batch_size: int | None


@dataclass
class UnregisteredScan:
    """Modules or parameters held in plain Python containers, against the model's registered parameters."""

    found: list[UnregisteredModules]
    total_parameters: int


@dataclass
class CarriedState:
    """Module attributes holding a tensor still attached to the previous batch's graph, and the error a
    second training step on the same batch raised (None when it did not)."""

    attributes: list[str]
    error: str | None


@dataclass
class DependencyProbe:
    """Where the input gradient of one sample's output lands: mass per (sample, time step)."""

    sample: int
    own_mass: float
    other_mass: float
    mass_on_own_time_column: float
    """Mass on time step == ``sample`` across all samples (the signature of time and batch swapped)."""
    samples_touched: int

    @property
    def leak(self) -> float:
        total = self.own_mass + self.other_mass
        return self.other_mass / total if total > 0 else 0.0


@dataclass
class ProbeStats:
    probes: list[DependencyProbe] = field(default_factory=list)
    batch_size: int = 0
    steps: int = 0
    layout: str = "batch-first"

    def leaking(self, tolerance: float) -> list[DependencyProbe]:
        """The probed samples whose output takes more than ``tolerance`` of its input gradient from others."""
        return [p for p in self.probes if p.leak > tolerance]

    def swapped(self, tolerance: float) -> bool:
        """Every leaking sample's gradient lands on the time step numbered like the sample: the signature of
        time and batch read the wrong way round (not of a model that mixes samples)."""
        leaking = self.leaking(tolerance)
        return (
            bool(leaking)
            and self.steps >= 2
            and all(
                p.samples_touched > 1 and p.mass_on_own_time_column / max(p.own_mass + p.other_mass, 1e-300) > 0.9
                for p in leaking
            )
        )


@dataclass
class PaddingProbe:
    max_relative_change: float
    samples: int
    added_steps: int
    source: str


@dataclass
class BidirectionalReadout:
    layer: str
    last_step_share: float
    """Share of the backward direction's output gradient that sits on each sample's last step."""
    backward_mass: float


@dataclass
class TimeProfile:
    profile: list[float]
    """Mean input-gradient norm per step back from each sample's last step (index 0 = last step)."""
    steps: int

    def memory(self, orders: float) -> int:
        if not self.profile or self.profile[0] <= 0:
            return 0
        floor = self.profile[0] * 10 ** (-orders)
        for back, value in enumerate(self.profile):
            if value < floor:
                return back
        return len(self.profile)


@dataclass
class FutureProbe:
    """Where the input gradient of one sample's output at ``step`` lands along time, in a next-step task."""

    sample: int
    step: int
    past_mass: float
    """Input gradient on steps up to and including ``step``."""
    future_mass: float
    """Input gradient on later steps: zero for a causal model."""

    @property
    def share(self) -> float:
        total = self.past_mass + self.future_mass
        return self.future_mass / total if total > 0 else 0.0


@dataclass
class FutureProbes:
    """The future probes of a next-step task over sequences of ``steps`` steps."""

    probes: list[FutureProbe]
    steps: int

"""Pure judgements of the dependency probes (RD202, RD206, RD207, RD211, RD403)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnndoctor.core.catalogue import Rule, get_rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.render.plots import sparkline


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
    input_kind: str = "inputs"


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


def judge_mixing(stats: ProbeStats, tolerance: float) -> list[Finding]:
    """RD207 / RD202: one sample's output receives gradient from other samples' inputs."""
    leaking = [p for p in stats.probes if p.leak > tolerance]
    if not leaking:
        return []
    worst = max(leaking, key=lambda p: p.leak)
    total = worst.own_mass + worst.other_mass
    swapped = all(
        p.samples_touched > 1 and total > 0 and p.mass_on_own_time_column / max(p.own_mass + p.other_mass, 1e-300) > 0.9
        for p in leaking
    )
    evidence = {
        "probed_samples": [p.sample for p in stats.probes],
        "worst_sample": worst.sample,
        "gradient_share_on_other_samples": worst.leak,
        "samples_touched": worst.samples_touched,
        "batch_size": stats.batch_size,
        "steps": stats.steps,
    }
    if swapped and stats.steps >= 2:
        return [get_rule("RD202").finding(evidence, variant="probe", confidence=0.95)]
    return [get_rule("RD207").finding(evidence, {"others": worst.samples_touched - 1})]


def judge_padding_leak(probe: PaddingProbe | None, tolerance: float) -> list[Finding]:
    """RD206: appending padding (lengths unchanged) moves the outputs by more than ``tolerance``."""
    if probe is None or probe.max_relative_change <= tolerance:
        return []
    evidence = {
        "max_relative_change": probe.max_relative_change,
        "samples": probe.samples,
        "added_steps": probe.added_steps,
        "padding": probe.source,
    }
    return [get_rule("RD206").finding(evidence)]


def judge_bidirectional_readout(readouts: list[BidirectionalReadout], min_share: float) -> list[Finding]:
    """RD211: the backward direction of a bidirectional RNN is read at the last step only."""
    return [
        get_rule("RD211").finding({"layer": readout.layer, "last_step_share": readout.last_step_share})
        for readout in readouts
        if readout.backward_mass > 0 and readout.last_step_share >= min_share
    ]


def judge_time_profile(profile: TimeProfile | None, orders: float, min_steps: int) -> list[Finding]:
    """RD403: the input gradient falls ``orders`` orders of magnitude within fewer than ``min_steps``
    steps of the end, on sequences at least four times that long."""
    if profile is None or profile.steps < 4 * min_steps:
        return []
    memory = profile.memory(orders)
    if memory >= min_steps:
        return []
    evidence = {
        "effective_memory": memory,
        "steps": profile.steps,
        "orders": orders,
        "profile_log10": [round(math.log10(v), 2) if v > 0 else None for v in profile.profile[:64]],
    }
    return [get_rule("RD403").finding(evidence, {"chart": sparkline(list(reversed(profile.profile)))})]


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


def judge_future_leak(probes: list[FutureProbe], steps: int, tolerance: float) -> list[Finding]:
    """RD215: in a task whose targets are the next inputs, an output reads inputs after its own step."""
    leaking = [p for p in probes if p.share > tolerance]
    if not leaking:
        return []
    worst = max(leaking, key=lambda p: p.share)
    evidence = {
        "sample": worst.sample,
        "step": worst.step,
        "future_gradient_share": worst.share,
        "probed_steps": sorted({p.step for p in probes}),
        "steps": steps,
    }
    return [get_rule("RD215").finding(evidence)]


# ---------------------------------------------------------------------------------------------
# the rules these judges emit: code, title, severity, what each explains, documentation
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        code="RD206",
        checks=("probes",),
        message=(
            "Appending {added_steps} padding steps to every sequence (true lengths unchanged) changes the outputs by "
            "up to {max_relative_change:.2g} (relative) over {samples} samples: the model reads padding. Typical "
            "causes: reading out[:, -1] on right-padded batches, an RNN run without packing, or pooling that does "
            "not mask padded steps. Results then depend on how long the longest sequence in the batch is."
        ),
        remedy=(
            "Pack the sequences, or read each sequence's last valid step:\n\n```python\n"
            "packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)\n"
            "_, (h_n, _) = self.lstm(packed)\nlast = h_n[-1]\n"
            "# or: out[torch.arange(len(lengths)), lengths - 1]\n```"
        ),
        title="output depends on padding positions",
        severity=Severity.ERROR,
        what=(
            "For a batch whose padding is known (explicit lengths, or token ids equal to an embedding's "
            "padding_idx), appends extra padding steps to every sequence with the true lengths unchanged, runs "
            "the forward pass again in eval mode and reports when the outputs at real positions move. A model "
            "that packs, masks or reads each sequence's last valid step is unaffected by how much padding "
            "follows."
        ),
        why=(
            "Padding is an artifact of batching; if it changes the output, the prediction for a sequence "
            "depends on how long its batch neighbours happen to be. The typical cause is reading out[:, -1] "
            "from an unpacked RNN, which for short sequences is the state after running over pad steps, or "
            "pooling over all steps without a mask."
        ),
        symptoms=(
            "Predictions for the same sequence change with the batch it lands in; short sequences are "
            "predicted badly; evaluating with batch size 1 gives different numbers from larger batches."
        ),
        fix=(
            "Pack the batch with pack_padded_sequence(..., enforce_sorted=False) and read the final hidden "
            "state, or gather each sequence's output at lengths - 1; mask padded steps in any pooling."
        ),
        before=snippet(
            """
            out, _ = self.rnn(x)               # x padded to the longest sequence in the batch
            return self.head(out[:, -1])       # the last step is padding for shorter sequences
            """
        ),
        after=snippet(
            """
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, h_n = self.rnn(packed)          # h_n: the state at each sequence's real last step
            return self.head(h_n[-1])
            """
        ),
        explains=("RD306", "RD601"),
    ),
    Rule(
        code="RD207",
        checks=("probes",),
        message=(
            "The output for sample {worst_sample} receives {gradient_share_on_other_samples:.1%} of its input gradient "
            "from {others} other sample(s) in the batch (in eval mode, so not batch norm): samples are mixed. "
            "Typical causes are h_n.view(batch, -1) on a multi-layer or bidirectional state, a reshape used where "
            "a permute was meant, or reductions over the batch axis. Predictions then depend on which samples "
            "share a batch."
        ),
        remedy=(
            "Select per-sample states explicitly instead of reshaping:\n\n```python\n_, (h_n, _) = self.lstm(x)"
            "             # h_n: (num_layers * directions, batch, hidden)\n"
            "last = h_n[-1]                             # top layer, (batch, hidden)\n"
            "both = torch.cat([h_n[-2], h_n[-1]], dim=-1)  # bidirectional: both directions\n```"
        ),
        title="a sample's output depends on other samples in the batch",
        severity=Severity.ERROR,
        what=(
            "In eval mode (so batch norm's intended coupling is off), backpropagates one sample's output (a "
            "random projection of it) to the inputs, or to the first embedding's output for token ids, for a few "
            "samples, and reports when any share of the input gradient lands on other samples."
        ),
        why=(
            "Samples in a batch must be processed independently; mixing lets each prediction draw on other "
            "samples, which are not there when the model is used on a single input. Common causes are a "
            "view() or reshape() used to reorder axes (it reinterprets memory instead of transposing), "
            "swapped batch and time axes, or a normalization computed across the batch axis."
        ),
        symptoms=(
            "Training loss looks reasonable, but predictions change with batch composition, shuffling or "
            "batch size, and evaluation one sample at a time is much worse."
        ),
        fix=(
            "Find the operation that mixes the batch axis: use permute() or transpose() instead of view() to "
            "reorder axes, and keep batch_first consistent with the data."
        ),
        before=snippet(
            """
            out, _ = self.rnn(x)                           # (batch, time, hidden)
            out = out.view(out.size(1), out.size(0), -1)   # meant as (time, batch, hidden)
            logits = self.head(out[-1])
            """
        ),
        after=snippet(
            """
            out, _ = self.rnn(x)                           # (batch, time, hidden)
            out = out.transpose(0, 1)                      # a real axis swap: (time, batch, hidden)
            logits = self.head(out[-1])
            """
        ),
    ),
    Rule(
        code="RD211",
        checks=("probes",),
        message=(
            "The model reads '{layer}' (bidirectional) only at each sequence's last step ({last_step_share:.0%} of "
            "the gradient sits there). At that step the backward direction has seen a single input, so half of "
            "the read-out ignores the sequence."
        ),
        remedy=(
            "Read the backward direction where it ends (the first step), e.g. from h_n:\n\n```python\n"
            "_, (h_n, _) = self.lstm(x)\nfeatures = torch.cat([h_n[-2], h_n[-1]], dim=-1)\n```"
        ),
        title="bidirectional RNN read out at the last step only",
        severity=Severity.WARNING,
        what=(
            "For every bidirectional recurrent layer, backpropagates the model's output to the layer's output "
            "sequence and reports when the backward direction's half receives its gradient only at each "
            "sequence's last step, i.e. the read-out takes out[:, -1]."
        ),
        why=(
            "At the last position the forward direction has read the whole sequence, but the backward "
            "direction has read only the last element; its summary of the sequence sits at position 0. Half "
            "of the features given to the head are therefore close to useless."
        ),
        symptoms=(
            "The bidirectional model is no better, or worse, than a unidirectional one; doubling the width "
            "gains nothing."
        ),
        fix=(
            "Concatenate both directions' final states from h_n (h_n[-2] and h_n[-1] for the top layer), and "
            "with padded batches use a packed sequence so these are the states at each real end."
        ),
        before=snippet(
            """
            self.rnn = nn.LSTM(32, 64, batch_first=True, bidirectional=True)
            out, _ = self.rnn(x)
            return self.head(out[:, -1])            # backward half has seen one step
            """
        ),
        after=snippet(
            """
            self.rnn = nn.LSTM(32, 64, batch_first=True, bidirectional=True)
            _, (h_n, _) = self.rnn(x)
            summary = torch.cat([h_n[-2], h_n[-1]], dim=1)   # forward and backward final states
            return self.head(summary)
            """
        ),
        explains=("RD210", "RD403"),
    ),
    Rule(
        code="RD403",
        checks=("probes",),
        message=(
            "The gradient reaching the inputs falls by {orders:g} orders of magnitude within {effective_memory} "
            "step(s) of the end of {steps}-step sequences: effectively the model only learns from the last "
            "{effective_memory} step(s). Gradient per step (log scale, oldest left): {chart}"
        ),
        remedy=(
            "Keep the recurrent path in its sensitive range: normalized inputs, a gated cell (LSTM/GRU) instead of "
            "nn.RNN, forget-gate bias initialized to 1, or shorter sequences:\n\n```python\n"
            "for name, p in lstm.named_parameters():\n    if 'bias' in name:\n"
            "        n = p.shape[0] // 4\n        p.data[n:2 * n].fill_(1.0)   # forget gate\n```"
        ),
        title="gradient vanishes through time",
        severity=Severity.WARNING,
        what=(
            "Backpropagates the output at each probed sample's last step to the inputs (or embedding outputs) and"
            " measures the input-gradient norm at every earlier step; the effective memory is how many steps back"
            " it stays within `memory_orders` (3) orders of magnitude of the last step. Reported when that is "
            "under `min_memory_steps` (6) on sequences at least four times as long; a default LSTM keeps about a "
            "dozen steps at initialization."
        ),
        why=(
            "How a late output depends on an early input passes through the product of the per-step "
            "recurrent Jacobians. When their norms are below one, that product decays exponentially with the "
            "distance, so the model gets no signal to use early information and can learn only short-range "
            "patterns."
        ),
        symptoms=(
            "The model fails whenever the answer depends on the start of the sequence (long-sequence "
            "classification stays at chance); cutting off the early steps does not change the results."
        ),
        fix=(
            "Use an LSTM or GRU instead of a plain RNN, set the LSTM forget-gate bias to 1 at "
            "initialization, and give early steps a short path to the loss (pooling or attention over all "
            "steps), or shorten the sequences."
        ),
        before=snippet(
            """
            self.rnn = nn.RNN(n_in, hidden, batch_first=True)   # sequences of 1000 steps

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])
            """
        ),
        after=snippet(
            """
            self.rnn = nn.LSTM(n_in, hidden, batch_first=True)
            with torch.no_grad():
                self.rnn.bias_ih_l0[hidden:2 * hidden].fill_(1.0)   # forget gate

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out.mean(dim=1))          # every step reaches the loss directly
            """
        ),
    ),
    Rule(
        code="RD215",
        checks=("probes",),
        message=(
            "The targets are the next inputs (next-step prediction), yet the output at step {step} of sample "
            "{sample} draws {future_gradient_share:.1%} of its input gradient from later steps: the model sees "
            "the future it must predict. A causal attention mask that is transposed, inverted or missing (or a "
            "bidirectional layer) lets each position read the next token, so the training loss falls below what "
            "the data allows and generation, which has no future to read, fails."
        ),
        remedy=(
            "Mask every later position in self-attention (True or -inf above the diagonal):\n\n```python\n"
            "T = x.size(1)\nmask = nn.Transformer.generate_square_subsequent_mask(T, device=x.device)\n"
            "h = self.encoder(self.embed(x), mask=mask, is_causal=True)\n```\n\n"
            "A recurrent language model must be unidirectional (`bidirectional=False`)."
        ),
        title="an output depends on later positions in a next-step prediction task (causal mask leaks)",
        severity=Severity.ERROR,
        what=(
            "When the targets are the inputs shifted one step ahead, backpropagates the output at a middle and "
            "a late step of a few samples (in eval mode) to the inputs, or the first embedding's output, and "
            "reports when any share of the gradient lands on steps after the output's own."
        ),
        why=(
            "A next-step predictor is used where the future is unknown. If position t may attend to t+1, whose "
            "token is position t's target, the model learns to copy it: the training and validation loss look "
            "excellent while the model has learned nothing it can use to generate."
        ),
        symptoms=(
            "Loss far below the data's entropy after a few hundred steps, near-perfect validation accuracy, and "
            "garbage when sampling one token at a time."
        ),
        fix=(
            "Pass a causal mask to every self-attention layer (upper triangle masked), check its orientation "
            "against the layer's convention (True or -inf means masked in PyTorch), and keep recurrent language "
            "models unidirectional."
        ),
        before=snippet(
            """
            mask = torch.tril(torch.ones(T, T)).bool()       # True = masked in PyTorch: hides the past instead
            h = self.encoder(self.embed(x), mask=mask)
            """
        ),
        after=snippet(
            """
            mask = nn.Transformer.generate_square_subsequent_mask(T)   # -inf above the diagonal
            h = self.encoder(self.embed(x), mask=mask, is_causal=True)
            """
        ),
    ),
)

"""Setups shaped like real code: time-major twins of batch-first fixtures get the same verdicts; hidden-state
models run without glue; cells count as recurrent; probes reach the model behind a forward function; the
user's own training step is the step that the sweep and the one-batch fit train with."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from rnndoctor import diagnose
from rnndoctor.core.findings import Report, Severity
from tests.helpers import DEFAULT_CONFIG, write_project

Batch = tuple[torch.Tensor, ...]


def loud(report: Report) -> list[str]:
    return [f.code for f in report.findings if f.severity >= Severity.WARNING]


def check(report: Report, name: str) -> Any:
    return next(c for c in report.checks if c.name == name)


def drift(n: int = 256, steps: int = 12, features: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, steps, features, generator=g)
    x[:, :, 0] += (y.float() - 0.5)[:, None]
    return x, y


def batches(*tensors: torch.Tensor, size: int = 32, time_major: bool = False) -> list[Batch]:
    out = []
    for start in range(0, len(tensors[0]), size):
        parts = [t[start : start + size] for t in tensors]
        if time_major:
            parts[0] = parts[0].transpose(0, 1).contiguous()
        out.append(tuple(parts))
    return out


# -- time-major twins ------------------------------------------------------------------------------


class Classifier(nn.Module):
    """Reads the last step; ``time_major`` runs the same weights on (T, N, F) input."""

    def __init__(self, time_major: bool, mix: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.time_major, self.mix = time_major, mix
        self.rnn = nn.LSTM(4, 16, num_layers=2, batch_first=not time_major)
        self.head = nn.Linear(32 if mix else 16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, (h, _) = self.rnn(x)
        if self.mix:
            return self.head(h.reshape(-1, 32))  # the h_n.view(batch, -1) bug: layers and samples mixed
        return self.head(out[-1] if self.time_major else out[:, -1])


class PaddedReader(nn.Module):
    """Embeds padded token ids and reads the last step, ignoring the lengths it is given (RD206)."""

    def __init__(self, time_major: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.time_major = time_major
        self.embed = nn.Embedding(30, 8, padding_idx=0)
        self.rnn = nn.GRU(8, 16, batch_first=not time_major)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out[-1] if self.time_major else out[:, -1])


class LanguageModel(nn.Module):
    def __init__(self, time_major: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(40, 16)
        self.rnn = nn.LSTM(16, 32, batch_first=not time_major)
        self.head = nn.Linear(32, 40)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out).reshape(-1, 40)  # (N*T, V) or (T*N, V): flattened as language models do


def padded_tokens(n: int = 128) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(5, 13, (n,), generator=g)
    x = torch.randint(1, 30, (n, 12), generator=g)
    x[torch.arange(12)[None, :] >= lengths[:, None]] = 0
    return x, torch.randint(0, 3, (n,), generator=g), lengths


def lm_stream(time_major: bool) -> list[Batch]:
    g = torch.Generator().manual_seed(2)
    successor = torch.randint(0, 40, (40,), generator=g)
    start = torch.randint(0, 40, (64,), generator=g)
    rows = [start]
    for _ in range(16):
        rows.append(successor[rows[-1]])
    tokens = torch.stack(rows, dim=1)  # (64, 17): a deterministic next-token rule
    data, target = tokens[:, :-1], tokens[:, 1:]
    if time_major:
        data, target = data.t(), target.t()
    return [
        (
            data[:, i : i + 16] if time_major else data[i : i + 16],
            (target[:, i : i + 16] if time_major else target[i : i + 16]).reshape(-1),
        )
        for i in range(0, 64, 16)
    ]


TWINS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "healthy classifier": lambda tm: {
        "model": Classifier(tm),
        "train_data": batches(*drift(), time_major=tm),
        "loss": nn.CrossEntropyLoss(),
    },
    "h_n.view mixing (RD207)": lambda tm: {
        "model": Classifier(tm, mix=True),
        "train_data": batches(*drift(), time_major=tm),
        "loss": nn.CrossEntropyLoss(),
    },
    "padded last step (RD206)": lambda tm: {
        "model": PaddedReader(tm),
        "train_data": batches(*padded_tokens(), time_major=tm),
        "loss": nn.CrossEntropyLoss(),
    },
    "flattened language model": lambda tm: {
        "model": LanguageModel(tm),
        "train_data": lm_stream(tm),
        "loss": nn.CrossEntropyLoss(),
    },
}


@pytest.mark.parametrize("name", list(TWINS))
def test_time_major_twin_gets_the_batch_first_verdicts(name: str) -> None:
    reports = [diagnose(**TWINS[name](time_major), quick=True) for time_major in (False, True)]
    batch_first, time_major = ([f.code for f in r.findings if f.severity >= Severity.WARNING] for r in reports)
    assert batch_first == time_major, (batch_first, time_major)
    assert "time-major" in check(reports[1], "probes").detail
    if name.startswith("healthy") or name.startswith("flattened"):
        assert batch_first == []
    else:
        assert batch_first[0] == name.split("(")[1].rstrip(")")


def test_flattened_time_major_language_model_is_language_modelling() -> None:
    report = diagnose(**TWINS["flattened language model"](True), quick=True)
    assert report.task["kind"] == "language modelling"
    assert not [f for f in report.findings if f.code in ("RD102", "RD110")]


# -- hidden-state models ---------------------------------------------------------------------------


class HiddenStateModel(nn.Module):
    """forward(input, hidden) -> (output, hidden), with init_hidden(batch_size), as the word LM example."""

    def __init__(self, batch_first: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.LSTM(4, 16, num_layers=2, batch_first=batch_first)
        self.head = nn.Linear(16, 2)
        self.batch_first = batch_first
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]) -> Any:
        out, hidden = self.rnn(x, hidden)
        return self.head(out[:, -1] if self.batch_first else out[-1]), hidden

    def init_hidden(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls.append(batch_size)
        weight = next(self.parameters())
        return weight.new_zeros(2, batch_size, 16), weight.new_zeros(2, batch_size, 16)


@pytest.mark.parametrize("hidden", ["init_hidden", "zeros"])
def test_hidden_state_model_runs_without_glue(hidden: str) -> None:
    model = HiddenStateModel()
    report = diagnose(
        model=model,
        train_data=batches(*drift(), time_major=True),
        loss=nn.CrossEntropyLoss(),
        hidden=hidden,
        quick=True,
    )
    assert loud(report) == []
    assert all(c.status.value in ("passed", "skipped") for c in report.checks), [
        (c.name, c.detail) for c in report.checks
    ]
    assert check(report, "probes").status.value == "passed"
    if hidden == "init_hidden":
        assert model.calls and set(model.calls) == {32}


def test_hidden_state_is_carried_detached_through_the_sweep() -> None:
    model = HiddenStateModel()
    report = diagnose(
        model=model,
        train_data=batches(*drift(), time_major=True),
        loss=nn.CrossEntropyLoss(),
        hidden="init_hidden",
        select=["RD5"],
    )
    assert check(report, "lr_sweep").status.value == "passed"
    assert not [f for f in report.findings if f.code == "RD001"]


def batch_first_mixup() -> tuple[Any, ...]:
    """(N, T, F) batches with N == T from a DataLoader, fed to a time-major LSTM: nothing raises."""
    x, y = drift(n=256, steps=16)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    return HiddenStateModel(batch_first=False), loader


def test_batch_first_mixup_in_a_hidden_state_model_is_found() -> None:
    model, loader = batch_first_mixup()
    report = diagnose(model=model, train_data=loader, loss=nn.CrossEntropyLoss(), hidden="init_hidden", quick=True)
    assert report.findings and report.findings[0].code == "RD202", [f.code for f in report.findings]


def test_probes_reach_the_model_behind_a_forward_function() -> None:
    model, loader = batch_first_mixup()

    def forward(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        out, _ = model(x, model.init_hidden(x.shape[0]))
        return out, y

    report = diagnose(model=model, train_data=loader, loss=nn.CrossEntropyLoss(), forward=forward, quick=True)
    assert report.findings and report.findings[0].code == "RD202", [f.code for f in report.findings]
    assert check(report, "inputs").status.value == "passed"


def test_forward_function_on_batches_of_another_layout_is_still_probed() -> None:
    x, y = drift()
    dict_batches = [{"x": b[0], "label": b[1]} for b in batches(x, y)]

    def forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return model(batch["x"]), batch["label"]

    report = diagnose(
        model=Classifier(False, mix=True),
        train_data=dict_batches,
        loss=nn.CrossEntropyLoss(),
        forward=forward,
        quick=True,
    )
    assert report.findings[0].code == "RD207"
    for name in ("inputs", "probes"):
        assert check(report, name).status.value in ("passed", "found"), check(report, name).detail


def test_batch_keys_map_dict_batches() -> None:
    x, y = drift()
    dict_batches = [{"input_ids": b[0], "labels": b[1], "mask": torch.ones(len(b[1]))} for b in batches(x, y)]
    report = diagnose(
        model=Classifier(False),
        train_data=dict_batches,
        loss=nn.CrossEntropyLoss(),
        batch_keys={"inputs": "input_ids", "targets": "labels"},
        quick=True,
    )
    assert loud(report) == [] and check(report, "probes").status.value == "passed"


# -- cells -----------------------------------------------------------------------------------------


class CellForecaster(nn.Module):
    """The LSTMCell loop of the time-sequence-prediction example: (N, T) in, (N, T) out."""

    def __init__(self, recurrent_scale: float = 1.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.cell = nn.LSTMCell(1, 24)
        self.head = nn.Linear(24, 1)
        with torch.no_grad():
            self.cell.weight_hh.mul_(recurrent_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = c = torch.zeros(x.shape[0], 24)
        outputs = []
        for x_t in x.split(1, dim=1):
            h, c = self.cell(x_t, (h, c))
            outputs.append(self.head(h))
        return torch.cat(outputs, dim=1)


def sine_batches() -> list[Batch]:
    g = torch.Generator().manual_seed(3)
    phase = torch.rand(64, 1, generator=g) * 6.28
    series = torch.sin(torch.arange(31)[None, :] * 0.3 + phase)
    return batches(series[:, :-1], series[:, 1:], size=16)


def test_lstm_cells_count_as_recurrent() -> None:
    report = diagnose(model=CellForecaster(), train_data=sine_batches(), loss=nn.MSELoss(), quick=True)
    assert loud(report) == []
    structure = check(report, "structure")
    assert "LSTMCell" in structure.detail
    assert structure.metrics["recurrent_layers"][0]["max_spectral_radius"] is not None
    assert any("forget gate" in key for key in check(report, "saturation").metrics["saturated_share"])


def test_oversized_cell_recurrence_is_rd208() -> None:
    report = diagnose(
        model=CellForecaster(recurrent_scale=12.0), train_data=sine_batches(), loss=nn.MSELoss(), select=["RD2"]
    )
    assert "RD208" in [f.code for f in report.findings]


# -- the user's own training step ------------------------------------------------------------------


def manual_sgd_step(rate: float | None) -> Callable[..., torch.Tensor]:
    """The word-LM example's update: clip, then p.data.add_ by hand, at a constant or the optimizer's rate."""

    def step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer, loss_fn: Any) -> torch.Tensor:
        x, y = batch
        model.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        lr = optimizer.param_groups[0]["lr"] if rate is None else rate
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        return loss

    return step


def test_manual_update_with_its_own_rate_is_rd408_and_the_sweep_says_why_it_skips() -> None:
    report = diagnose(
        model=Classifier(False),
        train_data=batches(*drift()),
        loss=nn.CrossEntropyLoss(),
        optimizer=None,
        train_step=manual_sgd_step(0.5),
    )
    assert "RD408" in [f.code for f in report.findings]
    sweep = check(report, "lr_sweep")
    assert sweep.status.value == "skipped" and "optimizer.step()" in sweep.detail


def test_manual_update_reading_the_optimizer_rate_is_swept() -> None:
    model = Classifier(False)
    report = diagnose(
        model=model,
        train_data=batches(*drift()),
        loss=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
        train_step=manual_sgd_step(None),
    )
    assert "RD408" not in [f.code for f in report.findings]
    assert check(report, "lr_sweep").status.value == "passed"


def test_the_sweep_and_the_fit_train_with_the_users_step() -> None:
    seen: list[tuple[int, ...]] = []

    def step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer, loss_fn: Any) -> torch.Tensor:
        x, y = batch
        seen.append(tuple(x.shape))
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    model = Classifier(True)
    report = diagnose(
        model=model,
        train_data=batches(*drift(), time_major=True),
        loss=nn.CrossEntropyLoss(),
        train_step=step,
        select=["RD5"],
    )
    sweep = check(report, "lr_sweep")
    assert sweep.status.value == "passed"
    assert len(seen) >= sweep.metrics["steps"]
    assert (12, 8, 4) in seen, "the one-batch fit cuts the time-major batch to 8 sequences"


def test_scheduler_built_inside_the_step_works() -> None:
    schedulers: dict[str, Any] = {}

    def step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer, loss_fn: Any) -> torch.Tensor:
        if "s" not in schedulers:
            schedulers["s"] = torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.5)
        x, y = batch
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        schedulers["s"].step()
        return loss

    report = diagnose(
        model=Classifier(False), train_data=batches(*drift()), loss=nn.CrossEntropyLoss(), train_step=step
    )
    assert not [f for f in report.findings if f.code == "RD001"], [f.message for f in report.findings]


def test_sibling_imports_of_two_projects_do_not_collide(tmp_path: Path) -> None:
    """Public code imports its own helpers by bare name (`from sizes import HIDDEN`); two projects run in
    one process must each get their own."""
    seen = []
    for hidden in (6, 10):
        config = write_project(
            tmp_path / f"project_{hidden}",
            {**DEFAULT_CONFIG, "model": "sized.py:build", "model_args": {}},
            files={
                "sizes.py": f"HIDDEN = {hidden}\n",
                "sized.py": "from sizes import HIDDEN\nfrom models import build_model\n\n\n"
                "def build():\n    return build_model(hidden_size=HIDDEN)\n",
            },
        )
        report = diagnose(config, select=["RD2"])
        seen.append(next(c for c in report.checks if c.name == "structure").metrics)
        assert "sizes" not in sys.modules
    assert [m["recurrent_layers"][0]["hidden_size"] for m in seen] == [6, 10]
